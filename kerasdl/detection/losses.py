"""Training losses of the anchor detectors. Both take targets ``y_true [B, A, 5]`` (4 box
targets, then the label: 0 background, k + 1 for class k, −1 ignored) and predictions
``y_pred [B, A, 5 + C]``, and return one loss per image normalised by its positive anchors."""
from __future__ import annotations

import keras

from kerasdl.losses import smooth_l1

ops = keras.ops


def _split(y_true, y_pred):
    labels = ops.cast(y_true[..., 4], "int32")
    return (y_true[..., :4], labels, ops.cast(labels > 0, "float32"),
            ops.cast(labels >= 0, "float32"))


@keras.saving.register_keras_serializable(package="kerasdl")
class MultiBoxLoss(keras.losses.Loss):
    """SSD's loss (Liu et al. 2016, Sec. 2.2): softmax cross-entropy over the C + 1 classes
    (``y_pred[..., 4:]``, index 0 background) on the positive anchors and the
    ``negative_ratio``× as many hardest negatives, plus smooth-L1 on the positives' offsets."""

    def __init__(self, negative_ratio=3.0, box_weight=1.0, name="multibox", **kwargs):
        super().__init__(name=name, **kwargs)
        self.negative_ratio, self.box_weight = float(negative_ratio), float(box_weight)

    def call(self, y_true, y_pred):
        offsets, labels, positive, valid = _split(y_true, y_pred)
        ce = keras.losses.sparse_categorical_crossentropy(
            ops.maximum(labels, 0), y_pred[..., 4:], from_logits=True)
        npos = ops.sum(positive, -1)
        negative_ce = ops.stop_gradient(ops.where((positive + 1 - valid) > 0, -1.0, ce))
        rank = ops.argsort(ops.argsort(-negative_ce, axis=-1), axis=-1)
        hard = ops.cast(ops.cast(rank, "float32") < self.negative_ratio * npos[:, None], "float32")
        hard *= ops.cast(negative_ce >= 0, "float32")
        conf = ops.sum(ce * (positive + hard), -1)
        box = ops.sum(ops.sum(smooth_l1(offsets, y_pred[..., :4]), -1) * positive, -1)
        return (conf + self.box_weight * box) / ops.maximum(npos, 1.0)

    def get_config(self):
        return {**super().get_config(), "negative_ratio": self.negative_ratio,
                "box_weight": self.box_weight}


@keras.saving.register_keras_serializable(package="kerasdl")
class YOLOLoss(keras.losses.Loss):
    """YOLO v3-style loss over ``y_pred = (tx, ty, tw, th, objectness, class logits...)``:
    binary cross-entropy of σ(t_xy) against the in-cell centre and squared error of t_wh on the
    positives, objectness by Keras' binary focal loss (α, γ; RetinaNet's choice instead of v3's
    plain BCE) over the non-ignored anchors, softmax cross-entropy of the class on the positives
    (the digits are exclusive; v3 uses independent sigmoids)."""

    def __init__(self, alpha=0.25, gamma=2.0, box_weight=1.0, name="yolo", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha, self.gamma, self.box_weight = float(alpha), float(gamma), float(box_weight)

    def call(self, y_true, y_pred):
        boxes, labels, positive, valid = _split(y_true, y_pred)
        xy = keras.losses.binary_crossentropy(boxes[..., :2, None], y_pred[..., :2, None],
                                              from_logits=True)
        wh = ops.square(boxes[..., 2:4] - y_pred[..., 2:4])
        box = ops.sum((ops.sum(xy, -1) + ops.sum(wh, -1)) * positive, -1)
        objectness = keras.losses.binary_focal_crossentropy(
            positive[..., None], y_pred[..., 4:5], apply_class_balancing=True, alpha=self.alpha,
            gamma=self.gamma, from_logits=True)
        obj = ops.sum(objectness * valid, -1)
        ce = keras.losses.sparse_categorical_crossentropy(
            ops.maximum(labels - 1, 0), y_pred[..., 5:], from_logits=True)
        cls = ops.sum(ce * positive, -1)
        return (obj + cls + self.box_weight * box) / ops.maximum(ops.sum(positive, -1), 1.0)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma,
                "box_weight": self.box_weight}
