"""Non-maximum suppression (notes 003 "使用非极大值抑制(NMS)输出"; notes 001 "NMS 原理"): keep the
highest-scoring box, drop every other box whose IoU with it exceeds θ, repeat — TensorFlow's
kernels, which TFLite runs as its built-in NON_MAX_SUPPRESSION_V4/V5 ops.

Boxes are ``xyxy`` (TF's kernels accept either corner order). ``soft_nms`` is Gaussian soft-NMS
(Bodla et al. 2017): instead of dropping, a box's score is scaled by exp(−IoU²/(2σ)) — TF's
``soft_nms_sigma`` convention — each time a higher one is selected.
"""
from __future__ import annotations

import tensorflow as tf


def _check(boxes, scores):
    boxes, scores = tf.convert_to_tensor(boxes, tf.float32), tf.convert_to_tensor(scores, tf.float32)
    if boxes.shape.rank != 2 or boxes.shape[-1] != 4 or scores.shape.rank != 1:
        raise ValueError(f"NMS takes boxes [N, 4] and scores [N], got {boxes.shape} and {scores.shape}")
    return boxes, scores


def nms(boxes, scores, iou_threshold=0.5, max_outputs=100, score_threshold=float("-inf")):
    """Indices of the kept boxes, by descending score."""
    boxes, scores = _check(boxes, scores)
    return tf.image.non_max_suppression(boxes, scores, max_outputs, iou_threshold, score_threshold)


def soft_nms(boxes, scores, sigma=0.5, max_outputs=100, score_threshold=0.0):
    """(indices, rescored scores) of Gaussian soft-NMS; boxes whose score decays below
    ``score_threshold`` are dropped."""
    boxes, scores = _check(boxes, scores)
    return tf.image.non_max_suppression_with_scores(
        boxes, scores, max_outputs, iou_threshold=1.0, score_threshold=score_threshold,
        soft_nms_sigma=sigma)


def class_offset_boxes(boxes, classes, spacing=4.0):
    """Boxes shifted by ``class · spacing`` so that one class-agnostic NMS never compares boxes of
    different classes (torchvision's ``batched_nms`` trick); ``spacing`` must exceed the
    coordinates' range (4 for relative boxes)."""
    shift = tf.cast(classes, tf.float32)[:, None] * spacing
    return boxes + shift


def padded_nms(boxes, scores, classes, max_outputs=100, iou_threshold=0.5, score_threshold=0.05):
    """Per-class NMS with fixed-size outputs, graph- and TFLite-friendly (one NonMaxSuppressionV5
    op, no Python control flow): (boxes [K, 4], scores [K], classes [K], valid count); rows past
    the count are zero."""
    boxes, scores = _check(boxes, scores)
    selected, kept_scores, valid = tf.raw_ops.NonMaxSuppressionV5(
        boxes=class_offset_boxes(boxes, classes), scores=scores, max_output_size=max_outputs,
        iou_threshold=iou_threshold, score_threshold=score_threshold, soft_nms_sigma=0.0,
        pad_to_max_output_size=True)
    mask = tf.sequence_mask(valid, max_outputs, tf.float32)
    return (tf.gather(boxes, selected) * mask[:, None], kept_scores * mask,
            tf.gather(tf.cast(classes, tf.float32), selected) * mask, valid)
