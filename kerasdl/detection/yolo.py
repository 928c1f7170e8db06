"""YOLO v3's box parametrisation and target assignment over per-pixel anchors.

A prediction (tx, ty, tw, th) at an anchor of a cell decodes to centre = cell corner +
σ(t_xy)·cell side, size = anchor size · exp(t_wh) (Redmon & Farhadi 2018, Sec. 2.1). Each
ground-truth box is assigned to one anchor: among the anchors whose cell holds its centre (one
cell per level), the one of highest shape IoU (both centred); unassigned anchors that overlap some
box with IoU > ``ignore_threshold`` are ignored by the objectness loss. Anchors and boxes are
relative ``xyxy`` (``kerasdl.detection.anchors``); cells are each anchor's cell side (w, h).
"""
from __future__ import annotations

import numpy as np

import keras

from kerasdl.detection.boxes import pairwise_iou

ops = keras.ops


def anchor_cells(feature_shapes, anchors_per_pixel: int) -> np.ndarray:
    """Cell side (w, h) of each anchor, in ``level_anchors`` order."""
    return np.concatenate([np.tile([[1 / w, 1 / h]], (h * w * anchors_per_pixel, 1))
                           for h, w in feature_shapes]).astype("float32")


def _centre_size(boxes):
    boxes = np.asarray(boxes, "float32").reshape(-1, 4)
    return (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]


def yolo_targets(anchors, cells, gt_boxes, gt_classes, ignore_threshold=0.5) -> np.ndarray:
    """Targets ``[A, 5]`` of one image: (x, y) of the centre within its cell in [0, 1), log size
    ratios to the anchor, and the label (k + 1 for class k, 0 for no object, −1 ignored)."""
    gt_boxes = np.asarray(gt_boxes, "float32").reshape(-1, 4)
    gt_classes = np.asarray(gt_classes).reshape(-1)
    if len(gt_boxes) != len(gt_classes):
        raise ValueError(f"{len(gt_boxes)} boxes but {len(gt_classes)} classes")
    targets = np.zeros((len(anchors), 5), "float32")
    if len(gt_boxes) == 0:
        return targets
    a_centre, a_size = _centre_size(anchors)
    g_centre, g_size = _centre_size(gt_boxes)
    overlap = pairwise_iou(np.asarray(anchors, "float32"), gt_boxes).max(1)
    targets[overlap > ignore_threshold, 4] = -1
    corner = a_centre - cells / 2
    for g in np.argsort(-np.prod(g_size, 1)):  # small boxes last: they win shared anchors
        inside = np.all((g_centre[g] >= corner) & (g_centre[g] < corner + cells), 1)
        inter = np.prod(np.minimum(a_size, g_size[g]), 1)
        shape_iou = np.where(inside, inter / (np.prod(a_size, 1) + np.prod(g_size[g]) - inter), -1)
        a = int(shape_iou.argmax())
        targets[a, :2] = (g_centre[g] - corner[a]) / cells[a]
        targets[a, 2:4] = np.log(g_size[g] / a_size[a])
        targets[a, 4] = gt_classes[g] + 1
    return targets


def decode_yolo(anchors, cells, raw_boxes):
    """``xyxy`` boxes from raw (tx, ty, tw, th) ``[..., A, 4]``."""
    anchors = ops.convert_to_tensor(anchors, "float32")
    a_centre, a_size = (anchors[:, :2] + anchors[:, 2:]) / 2, anchors[:, 2:] - anchors[:, :2]
    centre = a_centre - cells / 2 + ops.sigmoid(raw_boxes[..., :2]) * cells
    half = a_size * ops.exp(raw_boxes[..., 2:4]) / 2
    return ops.concatenate([centre - half, centre + half], -1)
