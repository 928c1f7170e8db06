"""Two-stage detectors (notes 003 "区域卷积神经网络R-CNN": Fast R-CNN pools a fixed-size feature
per region, Faster R-CNN replaces the heuristic region search by a region proposal network):

- ``faster_rcnn`` (Ren et al. 2015): a kerasdl backbone's stride-s map (optionally through the
  FPN neck over two strides, keeping the finest level), an RPN (3×3 conv, then per anchor 4
  offsets + 1 objectness logit at the curriculum's per-pixel anchors), proposals by decode + NMS
  (``kerasdl.detection.two_stage.RegionProposals``), RoIAlign (or RoI max pooling) to p×p, two
  fully connected layers, class logits (C + 1) and class-agnostic box offsets.
- ``rfcn`` (Dai et al. 2016): the same RPN, then fully convolutional position-sensitive score maps
  (k²·(C + 1) channels) and box maps (k²·4), PS-RoIAlign to k×k and a vote (mean over the bins).

Both output the packed layout of ``kerasdl.detection.two_stage`` and train with ``TwoStageLoss``
(approximate joint training).
"""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.detection.anchors import anchors_per_pixel, multibox_anchors
from kerasdl.detection.roi import PSRoIAlign, RoIAlign, RoIMaxPool
from kerasdl.detection.two_stage import (PackTwoStage, RegionProposals, decode_two_stage,
                                         two_stage_targets)
from kerasdl.layers.blocks import conv_bn_act
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.detection.heads import backbone_features, fpn_neck
from kerasdl.models.vision.convnet import image_input

SIZES = (0.2, 0.35, 0.55)
RATIOS = (0.7, 0.45)  # width / height: digits and cells


def small_init():
    """Box regressors start near 0 offsets. A fresh initializer per layer, made at build time: a
    module-level one drew its seed from Python's RNG at import, which (imports being lazy) shifted
    the initial weights of every model built after ``keras.utils.set_random_seed``."""
    return keras.initializers.RandomNormal(stddev=1e-3)


SMALL = {"input_shape": (32, 32, 1), "num_classes": 3, "backbone_width": 1 / 16,
         "rpn_channels": 8, "num_proposals": 8}


def rpn(inputs, backbone, width, stride, fpn, channels, sizes, ratios, num_proposals, iou):
    """Features, raw RPN output [B, A, 5] and proposals [B, R, 4]."""
    if fpn:
        features = fpn_neck(backbone_features(inputs, backbone, width, (stride, 2 * stride)),
                            channels)[0]
    else:
        features = backbone_features(inputs, backbone, width, (stride,))[0]
    k = len(anchors_per_pixel(sizes, ratios))
    x = conv_bn_act(features, channels, 3, name="rpn_hidden")
    x = keras.layers.Conv2D(5 * k, 1, name="rpn_predict")(x)
    raw = keras.layers.Reshape((-1, 5), name="rpn_anchors")(x)
    proposals = RegionProposals(features.shape[1:3], sizes, ratios, num_proposals, iou,
                                name="proposals")(raw)
    return features, raw, proposals


class TwoStageDetector(FunctionalModel):
    """Anchors, training targets and decoding shared by the two-stage detectors."""

    def anchors(self) -> np.ndarray:
        layer = self.get_layer("proposals")
        return multibox_anchors(layer.feature_shape, layer.sizes, layer.ratios)

    def batch_targets(self, boxes_list, classes_list) -> np.ndarray:
        return two_stage_targets(self.anchors(), self.hyperparameters["num_proposals"],
                                 boxes_list, classes_list)

    def decode(self, raw):
        return decode_two_stage(raw, len(self.anchors()))


@register_model("faster_rcnn", tags=("vision", "detection", "two_stage"), task="detection_two_stage",
                deployable=False, heavy=True, small=SMALL)
class FasterRCNN(TwoStageDetector):
    """Packed output ``[B, A + R, 9 + C]`` (``kerasdl.detection.two_stage``)."""

    @staticmethod
    def build_graph(num_classes=10, input_shape=(64, 64, 1), backbone="resnet18",
                    backbone_width=0.25, feature_stride=8, fpn=False, rpn_channels=64,
                    sizes=SIZES, ratios=RATIOS, num_proposals=32, proposal_iou=0.7,
                    pooling="align", pool_size=7, head_units=128):
        if pooling not in ("align", "max"):
            raise ValueError(f"pooling must be 'align' (RoIAlign) or 'max' (RoI pooling), got {pooling!r}")
        inputs = image_input(input_shape)
        features, raw, proposals = rpn(inputs, backbone, backbone_width, feature_stride, fpn,
                                       rpn_channels, sizes, ratios, num_proposals, proposal_iou)
        pool = RoIAlign(pool_size, name="roi_align") if pooling == "align" else \
            RoIMaxPool(pool_size, name="roi_pool")
        x = pool([features, proposals])
        x = keras.layers.Reshape((num_proposals, -1), name="roi_flatten")(x)
        for i in range(2):
            x = keras.layers.Dense(head_units, activation="relu", name=f"head_fc{i}")(x)
        offsets = keras.layers.Dense(4, name="head_offsets", kernel_initializer=small_init())(x)
        logits = keras.layers.Dense(num_classes + 1, name="head_classes")(x)
        head = keras.layers.Concatenate(name="head")([proposals, offsets, logits])
        return inputs, PackTwoStage(name="predictions", dtype="float32")([raw, head])


@register_model("rfcn", tags=("vision", "detection", "two_stage"), task="detection_two_stage",
                deployable=False, heavy=True, small={**SMALL, "group_size": 2})
class RFCN(TwoStageDetector):
    """Packed output ``[B, A + R, 9 + C]``; the head is position-sensitive (no per-RoI layers)."""

    @staticmethod
    def build_graph(num_classes=10, input_shape=(64, 64, 1), backbone="resnet18",
                    backbone_width=0.25, feature_stride=8, fpn=False, rpn_channels=64,
                    sizes=SIZES, ratios=RATIOS, num_proposals=32, proposal_iou=0.7, group_size=3):
        inputs = image_input(input_shape)
        features, raw, proposals = rpn(inputs, backbone, backbone_width, feature_stride, fpn,
                                       rpn_channels, sizes, ratios, num_proposals, proposal_iou)
        k2 = group_size * group_size
        x = conv_bn_act(features, rpn_channels, 3, name="psroi_hidden")
        scores = keras.layers.Conv2D(k2 * (num_classes + 1), 1, name="ps_scores")(x)
        boxes = keras.layers.Conv2D(k2 * 4, 1, name="ps_boxes", kernel_initializer=small_init())(x)
        votes = []
        for name, maps, width in (("classes", scores, num_classes + 1), ("offsets", boxes, 4)):
            pooled = PSRoIAlign(group_size, name=f"psroi_{name}")([maps, proposals])
            pooled = keras.layers.Reshape((num_proposals, k2, width), name=f"bins_{name}")(pooled)
            pooled = keras.layers.AveragePooling2D((1, k2), name=f"vote_{name}")(pooled)
            votes.append(keras.layers.Reshape((num_proposals, width), name=name)(pooled))
        head = keras.layers.Concatenate(name="head")([proposals, votes[1], votes[0]])
        return inputs, PackTwoStage(name="predictions", dtype="float32")([raw, head])
