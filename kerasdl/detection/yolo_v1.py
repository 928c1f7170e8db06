"""YOLO v1 (Redmon et al. 2016; notes 003 "YOLO": the image is split evenly into S×S cells, each
predicting B boxes): targets, the v1 loss and decoding.

Row layout (so the serving path is the anchor detectors'): ``[N, S·S·B, 5 + C]``, cell-major
(row-major cells, then the B predictors of a cell); per row x, y (centre within the cell), √w, √h
(of the image side), confidence — all five through a sigmoid — then the cell's C class logits,
repeated on its B rows (v1 predicts one class distribution per cell). Targets ``[N, S·S·B, 5]``:
x, y in the cell, w, h, label (k + 1, 0 for no object), the same on the B rows of a cell; a cell
holds one object (the smallest, when centres collide).

Loss (Sec. 2.2), per image: λ_coord Σ_resp [(x − x̂)² + (y − ŷ)²] + λ_coord Σ_resp [(√w − √ŵ)² +
(√h − √ĥ)²] + Σ_resp (IoU − Ĉ)² + λ_noobj Σ_not-resp Ĉ² + Σ_cells-with-object Σ_c (p_c − p̂_c)²,
λ_coord = 5, λ_noobj = 0.5; the responsible predictor of an object cell is the one whose box has
the highest IoU with the truth, its confidence target that IoU (detached); class probabilities are
the softmax of the logits.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

ops = keras.ops


def yolo_v1_targets(grid: int, boxes_per_cell: int, gt_boxes, gt_classes) -> np.ndarray:
    """Targets ``[S·S·B, 5]`` of one image (relative ``xyxy`` boxes, int classes)."""
    gt_boxes = np.asarray(gt_boxes, "float32").reshape(-1, 4)
    gt_classes = np.asarray(gt_classes).reshape(-1)
    if len(gt_boxes) != len(gt_classes):
        raise ValueError(f"{len(gt_boxes)} boxes but {len(gt_classes)} classes")
    cells = np.zeros((grid, grid, 5), "float32")
    centre, size = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2, gt_boxes[:, 2:] - gt_boxes[:, :2]
    for g in np.argsort(-np.prod(size, 1)):  # small boxes last: they win a shared cell
        col, row = np.minimum((centre[g] * grid).astype(int), grid - 1)
        cells[row, col] = [*(centre[g] * grid - [col, row]), *size[g], gt_classes[g] + 1]
    return np.repeat(cells.reshape(-1, 5), boxes_per_cell, 0)


def _iou_centre_size(a, b):
    """IoU of boxes given as (centre x, y, w, h) [..., 4]."""
    lo = ops.maximum(a[..., :2] - a[..., 2:] / 2, b[..., :2] - b[..., 2:] / 2)
    hi = ops.minimum(a[..., :2] + a[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2)
    inter = ops.prod(ops.maximum(hi - lo, 0.0), -1)
    union = ops.prod(a[..., 2:], -1) + ops.prod(b[..., 2:], -1) - inter
    return inter / ops.maximum(union, 1e-9)


@keras.saving.register_keras_serializable(package="kerasdl")
class YOLOv1Loss(keras.losses.Loss):
    """The v1 sum-squared loss above (S from the row count S·S·B)."""

    def __init__(self, boxes_per_cell=2, lambda_coord=5.0, lambda_noobj=0.5, name="yolo_v1",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.boxes_per_cell = int(boxes_per_cell)
        self.lambda_coord, self.lambda_noobj = float(lambda_coord), float(lambda_noobj)

    def call(self, y_true, y_pred):
        b = self.boxes_per_cell
        grid = int(round(np.sqrt(y_true.shape[1] / b)))
        y_true = ops.reshape(ops.cast(y_true, "float32"), (-1, y_true.shape[1] // b, b, 5))
        y_pred = ops.cast(y_pred, "float32")
        y_pred = ops.reshape(y_pred, (-1, y_pred.shape[1] // b, b, y_pred.shape[-1]))
        box = ops.sigmoid(y_pred[..., :5])                      # x, y, √w, √h, confidence
        obj = ops.cast(y_true[:, :, 0, 4] > 0, "float32")       # [N, cells]
        truth = ops.concatenate([y_true[..., :2] / grid, y_true[..., 2:4]], -1)
        pred = ops.concatenate([box[..., :2] / grid, ops.square(box[..., 2:4])], -1)
        iou = ops.stop_gradient(_iou_centre_size(pred, truth))  # [N, cells, B]
        resp = ops.one_hot(ops.argmax(iou, -1), b) * obj[..., None]
        xy = ops.sum(ops.square(y_true[..., :2] - box[..., :2]), -1)
        wh = ops.sum(ops.square(ops.sqrt(y_true[..., 2:4]) - box[..., 2:4]), -1)
        confidence = resp * ops.square(iou - box[..., 4]) + \
            self.lambda_noobj * (1 - resp) * ops.square(box[..., 4])
        onehot = ops.one_hot(ops.cast(y_true[:, :, 0, 4], "int32") - 1, y_pred.shape[-1] - 5)
        classes = obj * ops.sum(ops.square(onehot - ops.softmax(y_pred[:, :, 0, 5:])), -1)
        per_box = self.lambda_coord * resp * (xy + wh) + confidence
        return ops.sum(ops.sum(per_box, -1) + classes, -1)

    def get_config(self):
        return {**super().get_config(), "boxes_per_cell": self.boxes_per_cell,
                "lambda_coord": self.lambda_coord, "lambda_noobj": self.lambda_noobj}


def cell_corners(grid: int, boxes_per_cell: int) -> np.ndarray:
    """Top-left corner (x, y) of each row's cell, in cells, ``[S·S·B, 2]``."""
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    corners = np.stack([cols.reshape(-1), rows.reshape(-1)], -1).astype("float32")
    return np.repeat(corners, boxes_per_cell, 0)


def decode_yolo_v1(raw, grid: int, boxes_per_cell: int):
    """One image's rows ``[S·S·B, 5 + C]`` -> (boxes xyxy, scores = confidence · p_class, classes)."""
    box = ops.sigmoid(raw[:, :5])
    centre = (cell_corners(grid, boxes_per_cell) + box[:, :2]) / grid
    half = ops.square(box[:, 2:4]) / 2
    probs = box[:, 4:5] * ops.softmax(raw[:, 5:])
    # tf.argmax: keras.ops.argmax adds a -0.0 check (BitwiseAnd) that TFLite lacks
    return ops.concatenate([centre - half, centre + half], -1), ops.max(probs, -1), tf.argmax(probs, -1)


@keras.saving.register_keras_serializable(package="kerasdl")
class GridRows(keras.layers.Layer):
    """``[N, S, S, B·5 + C] -> [N, S·S·B, 5 + C]``: each of a cell's B boxes with its class logits."""

    def __init__(self, boxes_per_cell=2, **kwargs):
        super().__init__(**kwargs)
        self.boxes_per_cell = int(boxes_per_cell)

    def call(self, x):
        b, (s1, s2, d) = self.boxes_per_cell, x.shape[1:]
        x = ops.reshape(x, (-1, s1 * s2, d))
        boxes = ops.reshape(x[..., :5 * b], (-1, s1 * s2, b, 5))
        classes = ops.repeat(x[..., None, 5 * b:], b, axis=2)
        return ops.reshape(ops.concatenate([boxes, classes], -1), (-1, s1 * s2 * b, 5 + d - 5 * b))

    def compute_output_shape(self, shape):
        b = self.boxes_per_cell
        return (shape[0], shape[1] * shape[2] * b, 5 + shape[3] - 5 * b)

    def get_config(self):
        return {**super().get_config(), "boxes_per_cell": self.boxes_per_cell}
