"""YOLO v1 (Redmon et al. 2016; notes 003 "YOLO"): a kerasdl backbone's stride-s map is the S×S
grid (S = input side / s); a 3×3 conv-BN-ReLU and a 1×1 conv predict, per cell, B boxes (x, y,
√w, √h, confidence) and one class distribution (``kerasdl.detection.yolo_v1``). v1's two fully
connected layers are replaced by the convolutional head (as YOLO v2 did), so any input size works."""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.detection.yolo_v1 import GridRows, decode_yolo_v1, yolo_v1_targets
from kerasdl.layers.blocks import conv_bn_act
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.detection.heads import backbone_features
from kerasdl.models.detection.ssd import SMALL
from kerasdl.models.vision.convnet import image_input


@register_model("yolo_v1", tags=("vision", "detection", "yolo"), task="detection_yolo_v1",
                deployable=True, small=SMALL)
class YOLOv1(FunctionalModel):
    """Rows ``[B, S·S·boxes_per_cell, 5 + C]`` (``kerasdl.detection.yolo_v1``)."""

    @staticmethod
    def build_graph(num_classes=10, input_shape=(64, 64, 1), backbone="resnet18",
                    backbone_width=0.25, feature_stride=8, boxes_per_cell=2, head_channels=64):
        inputs = image_input(input_shape)
        x = backbone_features(inputs, backbone, backbone_width, (feature_stride,))[0]
        if x.shape[1] != x.shape[2]:
            raise ValueError(f"YOLO v1 needs a square grid, got {x.shape[1]}×{x.shape[2]}")
        x = conv_bn_act(x, head_channels, 3, name="head_hidden")
        x = keras.layers.Conv2D(5 * boxes_per_cell + num_classes, 1, name="head_predict")(x)
        return inputs, GridRows(boxes_per_cell, name="predictions", dtype="float32")(x)

    @property
    def grid(self) -> int:
        return int(self.get_layer("head_predict").output.shape[1])

    def batch_targets(self, boxes_list, classes_list) -> np.ndarray:
        b = self.hyperparameters["boxes_per_cell"]
        return np.stack([yolo_v1_targets(self.grid, b, boxes, classes)
                         for boxes, classes in zip(boxes_list, classes_list)])

    def decode(self, raw):
        return decode_yolo_v1(raw, self.grid, self.hyperparameters["boxes_per_cell"])
