"""A YOLO v3-style detector (Redmon & Farhadi 2018; notes 003 "YOLO"): backbone feature maps at
three strides merged top-down (an FPN neck, as v3's upsample-and-merge path), an SPP block on the
coarsest map (YOLOv3-SPP), and per-cell anchor predictions (tx, ty, tw, th, objectness, class
logits) decoded by ``kerasdl.detection.yolo``. Anchors are the curriculum's per-pixel sizes ×
ratios at each level (v3 uses 3 k-means shapes per level)."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasdl.detection.yolo import anchor_cells, decode_yolo, yolo_targets
from kerasdl.models.base import register_model
from kerasdl.models.detection.detector import AnchorDetector, check_levels
from kerasdl.models.detection.heads import anchor_head, backbone_features, fpn_neck, spp_block
from kerasdl.models.detection.ssd import RATIOS, SIZES, SMALL
from kerasdl.models.vision.convnet import image_input

ops = keras.ops


@register_model("yolo_v3", tags=("vision", "detection", "yolo"), task="detection_yolo",
                deployable=True, small={**SMALL, "neck_channels": 8})
class YOLOv3(AnchorDetector):
    """Predictions ``[B, A, 5 + C]``: tx, ty, tw, th, objectness logit, C class logits."""

    @staticmethod
    def build_graph(num_classes=10, input_shape=(64, 64, 1), backbone="resnet18",
                    backbone_width=0.25, feature_strides=(8, 16, 32), neck_channels=64, spp=True,
                    head_channels=64, sizes=SIZES, ratios=RATIOS, ignore_threshold=0.5):
        k = check_levels(sizes, ratios, len(feature_strides))
        inputs = image_input(input_shape)
        features = backbone_features(inputs, backbone, backbone_width, feature_strides)
        if spp:
            features[-1] = spp_block(features[-1])
        features = fpn_neck(features, neck_channels)
        return inputs, anchor_head(features, k, 5 + num_classes, head_channels)

    def cells(self):
        return anchor_cells(self.feature_shapes, self.num_anchors_per_pixel)

    def batch_targets(self, boxes_list, classes_list):
        anchors, cells = self.anchors(), self.cells()
        return np.stack([yolo_targets(anchors, cells, b, c, self.hyperparameters["ignore_threshold"])
                         for b, c in zip(boxes_list, classes_list)])

    def decode(self, raw):
        probs = ops.sigmoid(raw[:, 4:5]) * ops.softmax(raw[:, 5:])
        boxes = decode_yolo(self.anchors(), self.cells(), raw[:, :4])
        # tf.argmax: keras.ops.argmax adds a -0.0 check (BitwiseAnd) that TFLite lacks
        return boxes, ops.max(probs, -1), tf.argmax(probs, -1)
