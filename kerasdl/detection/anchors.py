"""Anchor boxes, their labelling against ground truth, and the box offset encoding.

Anchors as the curriculum states them (notes 003, "生成锚框"; d2l ``multibox_prior``): every pixel
of an h×w feature map is the centre of n + m − 1 anchors, sizes s₁..sₙ (fractions of the image
side) and width/height ratios r₁..rₘ, taken as (s₁,r₁), …, (sₙ,r₁), (s₁,r₂), …, (s₁,rₘ): an
anchor of size s and ratio r is s·√r wide and s/√r high (area s²). Order: row-major pixels, then
the anchors of a pixel — the order in which a conv head's ``[h, w, k·D]`` output reshapes to
``[h·w·k, D]``. Boxes are relative ``xyxy`` (see ``kerasdl.detection.boxes``).

Labelling (d2l ``assign_anchor_to_bbox``, notes "赋予锚框标号"): each ground-truth box first takes
the anchor of largest IoU, greedily by descending IoU (so every box gets one anchor); every other
anchor takes its best box when that IoU ≥ ``iou_threshold``; the rest are background.
"""
from __future__ import annotations

import numpy as np

import keras

from kerasdl.detection.boxes import pairwise_iou

VARIANCE = (0.1, 0.1, 0.2, 0.2)  # SSD's offset scaling, on centre x, y and log w, h


def anchors_per_pixel(sizes, ratios) -> list[tuple[float, float]]:
    """The n + m − 1 (size, ratio) pairs of one pixel, in the curriculum's order."""
    sizes, ratios = list(sizes), list(ratios)
    if not sizes or not ratios or min(sizes) <= 0 or min(ratios) <= 0:
        raise ValueError(f"sizes and ratios must be non-empty and positive, got {sizes}, {ratios}")
    return [(s, ratios[0]) for s in sizes] + [(sizes[0], r) for r in ratios[1:]]


def multibox_anchors(feature_shape, sizes, ratios) -> np.ndarray:
    """Relative ``xyxy`` anchors ``[h·w·(n+m−1), 4]`` of an ``(h, w)`` feature map of a square
    image (for an H×W image, scale widths by H/W as d2l does)."""
    h, w = (int(d) for d in feature_shape)
    pairs = np.array(anchors_per_pixel(sizes, ratios))
    half = np.stack([pairs[:, 0] * np.sqrt(pairs[:, 1]), pairs[:, 0] / np.sqrt(pairs[:, 1])], 1) / 2
    cy, cx = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
    centres = np.stack([cx, cy], -1).reshape(-1, 1, 2)
    return np.concatenate([centres - half, centres + half], -1).reshape(-1, 4).astype("float32")


def level_anchors(feature_shapes, sizes, ratios) -> np.ndarray:
    """Anchors of several feature maps (one size list per level), concatenated level by level."""
    if len(feature_shapes) != len(sizes):
        raise ValueError(f"{len(feature_shapes)} feature maps but {len(sizes)} size lists")
    return np.concatenate([multibox_anchors(s, z, ratios) for s, z in zip(feature_shapes, sizes)])


def match_anchors(anchors, gt_boxes, iou_threshold=0.5) -> np.ndarray:
    """Index of the ground-truth box each anchor is labelled with, −1 for background."""
    anchors, gt_boxes = np.asarray(anchors, "float32"), np.asarray(gt_boxes, "float32").reshape(-1, 4)
    assigned = np.full(len(anchors), -1, np.int64)
    if len(gt_boxes) == 0:
        return assigned
    iou = pairwise_iou(anchors, gt_boxes)
    best = iou.argmax(1)
    keep = iou[np.arange(len(anchors)), best] >= iou_threshold
    assigned[keep] = best[keep]
    iou = iou.copy()
    for _ in range(min(len(gt_boxes), len(anchors))):  # the greedy one-anchor-per-box pass
        a, g = np.unravel_index(iou.argmax(), iou.shape)
        if iou[a, g] < 0:
            break
        assigned[a] = g
        iou[a, :], iou[:, g] = -1.0, -1.0
    return assigned


def encode_offsets(anchors, boxes, variance=VARIANCE):
    """SSD offsets of ``boxes`` from ``anchors`` (both ``xyxy``): ((x−xₐ)/wₐ, (y−yₐ)/hₐ,
    log(w/wₐ), log(h/hₐ)) on centres, divided by ``variance`` (Keras' ``encode_box_to_deltas``)."""
    return keras.utils.bounding_boxes.encode_box_to_deltas(
        anchors, boxes, anchor_format="xyxy", box_format="xyxy", encoding_format="center_xywh",
        variance=list(variance))


def decode_offsets(anchors, offsets, variance=VARIANCE):
    """Inverse of ``encode_offsets``: ``xyxy`` boxes from anchors and offsets."""
    return keras.utils.bounding_boxes.decode_deltas_to_boxes(
        anchors, offsets, anchor_format="xyxy", box_format="xyxy", encoded_format="center_xywh",
        variance=list(variance))


def _match_all(anchors, boxes_list, classes_list, iou_threshold):
    """Matched box [N, A, 4] (anchors themselves where unmatched) and label [N, A] per image."""
    anchors = np.asarray(anchors, "float32")
    matched = np.repeat(anchors[None], len(boxes_list), 0)
    labels = np.zeros(matched.shape[:2], "float32")
    for n, (boxes, classes) in enumerate(zip(boxes_list, classes_list)):
        boxes, classes = np.asarray(boxes, "float32").reshape(-1, 4), np.asarray(classes).reshape(-1)
        if len(boxes) != len(classes):
            raise ValueError(f"image {n}: {len(boxes)} boxes but {len(classes)} classes")
        assigned = match_anchors(anchors, boxes, iou_threshold)
        positive = assigned >= 0
        matched[n, positive], labels[n, positive] = boxes[assigned[positive]], classes[assigned[positive]] + 1
    return matched, labels


def multibox_targets(anchors, boxes_list, classes_list, iou_threshold=0.5) -> np.ndarray:
    """Training targets ``[N, A, 5]`` of N images (per-image box and class arrays): 4 encoded
    offsets (0 for background) and the label (0 background, k + 1 for class k)."""
    matched, labels = _match_all(anchors, boxes_list, classes_list, iou_threshold)
    offsets = np.asarray(encode_offsets(np.asarray(anchors, "float32"), matched)) * (labels > 0)[..., None]
    return np.concatenate([offsets, labels[..., None]], -1).astype("float32")
