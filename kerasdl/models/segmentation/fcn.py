"""Fully convolutional networks (Long, Shelhamer & Darrell, CVPR 2015): a classifier's stages
as the encoder, 1x1 class-score convs on the stride-32 (and stride-16, stride-8) maps, and
learnable transposed-conv upsampling initialised to bilinear interpolation.

- FCN-32s: score(stride 32) upsampled x32.
- FCN-16s: upsample x2 (learnable) + score(stride 16), then x16.
- FCN-8s: that sum upsampled x2 + score(stride 8), then x8.

A transposed conv of kernel k, stride s, padding p maps n to s·n + k - 2p - s; with k = 2s and
Keras' "same" padding (p = s/2 per side) that is exactly s·n, so no crop layer is needed (the
paper pads the input by 100 px and crops instead). The paper's encoder is VGG-16 with its FC
layers convolutionalised; here it is any registered ConvNet (default ResNet-18).
"""
from __future__ import annotations

import keras

from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.segmentation.common import (SMALL_BACKBONE, SMALL_INPUT, TAGS, TASK,
                                                backbone_features, bilinear_upsample, logits_head,
                                                pick)

SKIPS = {32: (), 16: (16,), 8: (16, 8)}
# Contract checks run with -m slow (XLA compiles of the ResNet encoder cost ~40 s on 2 cores).  # FCN-{32,16,8}s: which finer maps join the scores


def _small(variant):
    return {"variant": variant, "num_classes": 3, "input_shape": SMALL_INPUT,
            "backbone_kwargs": SMALL_BACKBONE}


@register_model("fcn32s", defaults={"variant": 32}, tags=(*TAGS, "fcn"), **TASK, small=_small(32),
                heavy=True)
@register_model("fcn16s", defaults={"variant": 16}, tags=(*TAGS, "fcn"), **TASK, small=_small(16),
                heavy=True)
@register_model("fcn8s", defaults={"variant": 8}, tags=(*TAGS, "fcn"), **TASK, small=_small(8),
                heavy=True)
class FCN(FunctionalModel):
    """FCN-``variant``s (32, 16 or 8) over ``backbone``'s stride-32/16/8 feature maps."""

    @staticmethod
    def build_graph(num_classes=21, input_shape=(224, 224, 3), variant=8, backbone="resnet18",
                    backbone_kwargs=None):
        if variant not in SKIPS:
            raise ValueError(f"FCN variant must be 32, 16 or 8, got {variant!r}")
        inputs, features = backbone_features(input_shape, backbone, backbone_kwargs)
        scores = logits_head(pick(features, 32, backbone), num_classes, "score32")
        stride = 32
        for skip in SKIPS[variant]:
            up = bilinear_upsample(scores, stride // skip, name=f"upscore{stride}to{skip}")
            finer = logits_head(pick(features, skip, backbone), num_classes, f"score{skip}")
            scores = keras.layers.Add(name=f"fuse{skip}")([up, finer])
            stride = skip
        logits = bilinear_upsample(scores, stride, name="logits")
        return inputs, logits
