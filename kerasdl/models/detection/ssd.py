"""SSD, the single-shot multibox detector (Liu et al. 2016; notes 003 "单发多框检测(SSD)"): a
backbone's feature maps plus extra stride-2 blocks that halve the size, anchors at every pixel of
every level (small objects low, large high), and one conv head per level predicting class logits
(index 0 background) and offsets for each anchor."""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.detection.anchors import decode_offsets, multibox_targets
from kerasdl.models.base import register_model
from kerasdl.models.detection.detector import AnchorDetector, check_levels
from kerasdl.models.detection.heads import anchor_head, backbone_features, extra_levels
from kerasdl.models.vision.convnet import image_input

ops = keras.ops
SMALL = {"input_shape": (32, 32, 1), "num_classes": 3, "backbone_width": 1 / 16, "head_channels": 8}
SIZES = ((0.15, 0.25), (0.3, 0.4), (0.5, 0.65))
RATIOS = (0.7, 1.0, 0.4)  # width / height: digits are taller than wide


@register_model("ssd", tags=("vision", "detection", "ssd"), task="detection", deployable=True,
                small=SMALL)
class SSD(AnchorDetector):
    """Predictions ``[B, A, 5 + C]``: 4 offsets (``anchors.encode_offsets``), C + 1 class logits."""

    @staticmethod
    def build_graph(num_classes=10, input_shape=(64, 64, 1), backbone="resnet18",
                    backbone_width=0.25, feature_strides=(8, 16), extra_levels_count=1,
                    head_channels=64, sizes=SIZES, ratios=RATIOS, iou_threshold=0.5):
        k = check_levels(sizes, ratios, len(feature_strides) + extra_levels_count)
        inputs = image_input(input_shape)
        features = backbone_features(inputs, backbone, backbone_width, feature_strides)
        features += extra_levels(features[-1], extra_levels_count, features[-1].shape[-1] * 2)
        return inputs, anchor_head(features, k, 5 + num_classes, head_channels)

    def batch_targets(self, boxes_list, classes_list):
        return multibox_targets(self.anchors(), boxes_list, classes_list,
                                self.hyperparameters["iou_threshold"])

    def decode(self, raw):
        probs = ops.softmax(raw[:, 4:])[:, 1:]
        boxes = decode_offsets(self.anchors(), raw[:, :4])
        # tf.argmax: keras.ops.argmax adds a -0.0 check (BitwiseAnd) that TFLite lacks
        return boxes, ops.max(probs, -1), tf.argmax(probs, -1)
