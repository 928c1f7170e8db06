"""DeepLab (Chen et al.): atrous (dilated) convolution keeps the feature map at an output stride
of 8 or 16 while the receptive field grows.

- v1 (ICLR 2015): dilated encoder at stride 8, a large-dilation 3x3 "fc6" conv and a 1x1 "fc7",
  class scores, bilinear x8 (the paper's dense-CRF post-processing is not included).
- v2 (TPAMI 2018): v1's encoder with ASPP-L: class scores from 3x3 convs at rates 6/12/18/24, summed.
- v3 (2017): encoder at stride 16 + a dilated stage, ASPP with BN and image-level pooling.
- v3+ (ECCV 2018): v3 as the encoder, plus a decoder: ASPP output upsampled x4, concatenated with
  the stride-4 encoder map reduced to 48 channels, two 3x3 convs, scores, x4.

Rates scale with the feature map: the papers' (6, 12, 18) are for a 33x33 map at stride 16
(513 px); at 128 px and stride 16 the map is 8x8, so the pipelines pass smaller rates.
"""
from __future__ import annotations

import keras

from kerasdl.layers.blocks import conv_bn_act
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.segmentation.common import (SMALL_BACKBONE, SMALL_INPUT, TAGS, TASK,
                                                backbone_features, conv_block, logits_head, pick,
                                                resize_to)
from kerasdl.models.segmentation.context import aspp, aspp_scores, atrous_stage, classifier


# Contract checks run with -m slow (v3+ XLA compile alone ~60-85 s on 2 cores).
def _small(**extra):
    return {"num_classes": 3, "input_shape": SMALL_INPUT, "filters": 16,
            "backbone_kwargs": SMALL_BACKBONE, "rates": (1, 2), **extra}


@register_model("deeplab_v1", defaults={"version": "v1"}, tags=(*TAGS, "deeplab"), **TASK,
                small=_small(version="v1"), heavy=True)
@register_model("deeplab_v2", defaults={"version": "v2"}, tags=(*TAGS, "deeplab"), **TASK,
                small=_small(version="v2"), heavy=True)
@register_model("deeplab_v3", defaults={"version": "v3"}, tags=(*TAGS, "deeplab"), **TASK,
                small=_small(version="v3"), heavy=True)
@register_model("deeplab_v3plus", defaults={"version": "v3+"}, tags=(*TAGS, "deeplab"), **TASK,
                small=_small(version="v3+"), heavy=True)
class DeepLab(FunctionalModel):
    """DeepLab ``version`` in {"v1", "v2", "v3", "v3+"} over ``backbone`` (see the module
    docstring). ``filters``: width of the dilated stage and ASPP; ``rates``: atrous rates (v1 uses
    the last as its fc6 dilation); ``output_stride``: 8 (v1/v2 default) or 16 (v3 default)."""

    @staticmethod
    def build_graph(num_classes=21, input_shape=(513, 513, 3), version="v3+", backbone="resnet18",
                    backbone_kwargs=None, filters=256, rates=(6, 12, 18), output_stride=None,
                    decoder_filters=None, dropout=0.1):
        if version not in ("v1", "v2", "v3", "v3+"):
            raise ValueError(f"DeepLab version must be v1, v2, v3 or v3+, got {version!r}")
        stride = output_stride or (8 if version in ("v1", "v2") else 16)
        if stride not in (8, 16):
            raise ValueError(f"output_stride must be 8 or 16, got {stride}")
        inputs, features = backbone_features(input_shape, backbone, backbone_kwargs)
        x = atrous_stage(pick(features, stride, backbone), filters, 2, name="atrous")
        size = tuple(input_shape[:2])
        if version == "v1":
            x = conv_bn_act(x, filters, 3, dilation_rate=max(rates), name="fc6")
            x = conv_bn_act(x, filters, 1, name="fc7")
            return inputs, resize_to(logits_head(x, num_classes, "scores"), size, "logits")
        if version == "v2":
            return inputs, resize_to(aspp_scores(x, num_classes, rates), size, "logits")
        x = aspp(x, filters, rates)
        if version == "v3":
            return inputs, classifier(x, num_classes, filters, size, dropout=dropout)
        low = pick(features, 4, backbone)
        decoder = decoder_filters or filters
        reduced = conv_bn_act(low, max(8, decoder * 48 // 256), 1, name="decoder_reduce")
        x = resize_to(x, low.shape[1:3], "decoder_up")
        x = keras.layers.Concatenate(name="decoder_concat")([x, reduced])
        x = conv_block(x, decoder, 2, name="decoder")
        return inputs, resize_to(logits_head(x, num_classes, "scores"), size, "logits")
