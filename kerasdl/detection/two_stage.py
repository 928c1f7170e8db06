"""Two-stage detection (Faster R-CNN, Ren et al. 2015; R-FCN): the region proposal step, the RPN
anchor targets, and the joint loss over one packed output tensor.

Packed layout (one output, so the model trains with any Keras loop and exports like the others):
``y_pred [B, A + R, 9 + C]`` — rows 0..A−1 are the RPN's anchors (4 offsets, 1 objectness logit,
zeros), rows A..A+R−1 the R proposals (4 proposal ``xyxy`` boxes, 4 class-agnostic head offsets
from the proposal, C + 1 class logits, 0 = background). ``y_true [B, A + R, 6]`` has the same rows:
RPN rows (4 offsets, label 1 object / 0 background / −1 ignored, kind 0) then up to R ground-truth
boxes (4 ``xyxy``, class + 1 or 0 for padding, kind 1). Offsets are SSD's
(``kerasdl.detection.anchors.encode_offsets``, variances 0.1/0.2).

Training is approximate joint training (Ren et al., Sec. 3.2): one loss = RPN loss + head loss,
proposals treated as constants (no gradient through their coordinates). Head targets are built in
the graph: each proposal takes the ground-truth box of highest IoU; IoU ≥ 0.5 makes it that class
with regression targets, otherwise background. Two simplifications for small images: instead of
sampling 256 anchors 1:1 (RPN) and 128 proposals 1:3 (head) the RPN objectness is class-balanced
(positives and negatives each averaged) and every proposal contributes to the head loss.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasdl.detection.anchors import (decode_offsets, encode_offsets, match_anchors,
                                       multibox_anchors)
from kerasdl.detection.boxes import pairwise_iou
from kerasdl.losses import smooth_l1

ops = keras.ops
OFFSET_CLIP = 20.0  # |offset| bound before decoding (exp(0.2·20) = 55× the anchor at most)


def clip_boxes(boxes):
    return ops.clip(boxes, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="kerasdl")
class RegionProposals(keras.layers.Layer):
    """RPN output ``[B, A, 5]`` (offsets, objectness logit) -> proposals ``[B, R, 4]``: decode at
    the anchors of an ``(h, w)`` map (``multibox_anchors(feature_shape, sizes, ratios)``), clip to
    the image, NMS at ``iou_threshold`` by objectness, keep the best ``num_proposals`` (batched
    ``tf.image.non_max_suppression_padded``: XLA-compilable, TFLite WHILE + built-ins). When fewer
    survive, the rest repeat the first anchor's box."""

    def __init__(self, feature_shape, sizes, ratios, num_proposals=32, iou_threshold=0.7, **kwargs):
        super().__init__(**kwargs)
        self.feature_shape = tuple(int(d) for d in feature_shape)
        self.sizes, self.ratios = tuple(sizes), tuple(ratios)
        self.num_proposals, self.iou_threshold = int(num_proposals), float(iou_threshold)
        self.anchors = multibox_anchors(self.feature_shape, self.sizes, self.ratios)
        if self.num_proposals < 1 or self.num_proposals > len(self.anchors):
            raise ValueError(f"num_proposals must be in [1, {len(self.anchors)}] (the anchors), "
                             f"got {num_proposals}")

    def call(self, rpn):
        rpn = ops.stop_gradient(ops.cast(rpn, "float32"))
        offsets = ops.clip(rpn[..., :4], -OFFSET_CLIP, OFFSET_CLIP)
        boxes = clip_boxes(decode_offsets(self.anchors, offsets))
        index, _ = tf.image.non_max_suppression_padded(
            boxes, ops.sigmoid(rpn[..., 4]), self.num_proposals, self.iou_threshold,
            pad_to_max_output_size=True)
        return tf.gather(boxes, index, batch_dims=1)

    def compute_output_shape(self, shape):
        return (shape[0], self.num_proposals, 4)

    def get_config(self):
        return {**super().get_config(), "feature_shape": self.feature_shape, "sizes": self.sizes,
                "ratios": self.ratios, "num_proposals": self.num_proposals,
                "iou_threshold": self.iou_threshold}


@keras.saving.register_keras_serializable(package="kerasdl")
class PackTwoStage(keras.layers.Layer):
    """``[rpn [B, A, 5], head [B, R, 9 + C]] -> [B, A + R, 9 + C]`` (the layout above)."""

    def call(self, inputs):
        rpn, head = (ops.cast(t, "float32") for t in inputs)
        rpn = ops.pad(rpn, [[0, 0], [0, 0], [0, head.shape[-1] - rpn.shape[-1]]])
        return ops.concatenate([rpn, head], 1)

    def compute_output_shape(self, shapes):
        (b, a, _), (_, r, d) = shapes
        return (b, a + r, d)


def rpn_targets(anchors, gt_boxes, positive_iou=0.7, negative_iou=0.3) -> np.ndarray:
    """RPN targets ``[A, 5]`` of one image: an anchor is positive (label 1) if its IoU with a box
    is ≥ ``positive_iou`` or it is some box's best anchor, negative (0) if its best IoU is below
    ``negative_iou``, else ignored (−1); offsets to its box for positives, 0 otherwise."""
    anchors = np.asarray(anchors, "float32")
    gt_boxes = np.asarray(gt_boxes, "float32").reshape(-1, 4)
    targets = np.zeros((len(anchors), 5), "float32")
    if len(gt_boxes) == 0:
        return targets
    assigned = match_anchors(anchors, gt_boxes, positive_iou)
    best = pairwise_iou(anchors, gt_boxes).max(1)
    targets[:, 4] = np.where(best < negative_iou, 0, -1)
    positive = assigned >= 0
    targets[positive, 4] = 1
    targets[positive, :4] = np.asarray(encode_offsets(anchors[positive], gt_boxes[assigned[positive]]))
    return targets


def two_stage_targets(anchors, num_proposals, boxes_list, classes_list, **iou) -> np.ndarray:
    """``y_true [N, A + R, 6]`` of N images (the layout above)."""
    out = np.zeros((len(boxes_list), len(anchors) + num_proposals, 6), "float32")
    out[:, len(anchors):, 5] = 1
    for n, (boxes, classes) in enumerate(zip(boxes_list, classes_list)):
        boxes, classes = np.asarray(boxes, "float32").reshape(-1, 4), np.asarray(classes).reshape(-1)
        if len(boxes) != len(classes):
            raise ValueError(f"image {n}: {len(boxes)} boxes but {len(classes)} classes")
        if len(boxes) > num_proposals:
            raise ValueError(f"image {n} has {len(boxes)} boxes; the layout holds at most "
                             f"num_proposals = {num_proposals}")
        out[n, :len(anchors), :5] = rpn_targets(anchors, boxes, **iou)
        gt = out[n, len(anchors):len(anchors) + len(boxes)]
        gt[:, :4], gt[:, 4] = boxes, classes + 1
    return out


def _mean(values, mask):
    return ops.sum(values * mask, -1) / ops.maximum(ops.sum(mask, -1), 1.0)


def head_targets(proposals, gt_boxes, gt_labels, foreground_iou=0.5):
    """Per proposal: (class label, 0 = background, and matched ``xyxy`` box) from the ground truth
    of highest IoU (``gt_labels`` 0 marks padding rows)."""
    iou = pairwise_iou(proposals, gt_boxes) * ops.cast(gt_labels > 0, "float32")[:, None, :]
    best = ops.argmax(iou, -1)
    matched = ops.take_along_axis(gt_boxes, best[..., None], 1)
    label = ops.take_along_axis(gt_labels, best, 1)
    return ops.where(ops.max(iou, -1) >= foreground_iou, label, 0.0), matched


@keras.saving.register_keras_serializable(package="kerasdl")
class TwoStageLoss(keras.losses.Loss):
    """RPN loss (class-balanced objectness BCE + smooth-L1 offsets of positives) + head loss
    (softmax CE over all proposals + smooth-L1 of the foreground proposals' offsets), per image;
    ``rpn_weight`` scales the RPN part."""

    def __init__(self, foreground_iou=0.5, rpn_weight=1.0, name="two_stage", **kwargs):
        super().__init__(name=name, **kwargs)
        self.foreground_iou, self.rpn_weight = float(foreground_iou), float(rpn_weight)

    def call(self, y_true, y_pred):
        y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
        rpn_row, roi_row = ops.cast(y_true[..., 5] == 0, "float32"), y_true[..., 5]
        label = y_true[..., 4]
        positive = ops.cast(label == 1, "float32") * rpn_row
        negative = ops.cast(label == 0, "float32") * rpn_row
        bce = keras.losses.binary_crossentropy(positive[..., None], y_pred[..., 4:5], from_logits=True)
        rpn_box = ops.sum(smooth_l1(y_true[..., :4], y_pred[..., :4]), -1)
        rpn = _mean(bce, positive) + _mean(bce, negative) + _mean(rpn_box, positive)

        proposals = ops.stop_gradient(y_pred[..., :4])
        gt_labels = label * roi_row
        cls, matched = head_targets(proposals, y_true[..., :4], gt_labels, self.foreground_iou)
        ce = keras.losses.sparse_categorical_crossentropy(ops.cast(cls, "int32"), y_pred[..., 8:],
                                                          from_logits=True)
        foreground = ops.cast(cls > 0, "float32") * roi_row
        safe = ops.concatenate([proposals[..., :2], ops.maximum(proposals[..., 2:],
                                                                proposals[..., :2] + 1e-3)], -1)
        targets = ops.where(foreground[..., None] > 0, encode_offsets(safe, matched), 0.0)
        head_box = ops.sum(smooth_l1(targets, y_pred[..., 4:8]), -1)
        head = _mean(ce, roi_row) + _mean(head_box, foreground)
        return self.rpn_weight * rpn + head

    def get_config(self):
        return {**super().get_config(), "foreground_iou": self.foreground_iou,
                "rpn_weight": self.rpn_weight}


def decode_two_stage(raw, num_anchors: int):
    """One image's packed output ``[A + R, 9 + C]`` -> (boxes [R, 4] xyxy, scores [R], classes
    [R]): proposal + head offsets, best non-background class and its softmax probability."""
    rows = raw[num_anchors:]
    offsets = ops.clip(rows[:, 4:8], -OFFSET_CLIP, OFFSET_CLIP)
    boxes = clip_boxes(decode_offsets(rows[:, :4], offsets))
    probs = ops.softmax(rows[:, 8:])[:, 1:]
    # tf.argmax: keras.ops.argmax adds a -0.0 check (BitwiseAnd) that TFLite lacks
    return boxes, ops.max(probs, -1), tf.argmax(probs, -1)
