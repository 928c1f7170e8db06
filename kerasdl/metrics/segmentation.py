"""Semantic-segmentation scores from one confusion matrix: pixel accuracy, per-class and mean IoU
(Keras' ``MeanIoU`` accumulates the matrix and gives mIoU), Dice, and foreground IoU (all
non-background classes against background).

``SegmentationScores`` streams over batches; ``segmentation_scores`` scores arrays at once.
Classes absent from both truth and prediction are left out of the means (as ``MeanIoU`` does).
"""
from __future__ import annotations

import keras
import numpy as np


class SegmentationScores:
    """Accumulates ``(y_true [B, H, W] int, y_pred)`` batches; ``y_pred`` is labels [B, H, W] or
    logits/probabilities [B, H, W, C] (argmax taken). ``result()`` -> dict of float scores."""

    def __init__(self, num_classes: int, background: int = 0):
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if not 0 <= background < num_classes:
            raise ValueError(f"background class {background} is not in [0, {num_classes})")
        self.num_classes, self.background = int(num_classes), int(background)
        self._dense = keras.metrics.MeanIoU(num_classes, sparse_y_pred=False)
        self._sparse = keras.metrics.MeanIoU(num_classes)

    def update(self, y_true, y_pred) -> None:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        dense = y_pred.ndim == y_true.ndim + 1
        if (y_pred.shape[:-1] if dense else y_pred.shape) != y_true.shape:
            raise ValueError(f"y_pred shape {y_pred.shape} does not match y_true shape {y_true.shape} "
                             "(labels [B, H, W] or scores [B, H, W, C])")
        if dense and y_pred.shape[-1] != self.num_classes:
            raise ValueError(f"y_pred has {y_pred.shape[-1]} class scores, expected {self.num_classes}")
        (self._dense if dense else self._sparse).update_state(y_true, y_pred)

    @property
    def confusion_matrix(self) -> np.ndarray:
        """[num_classes, num_classes] pixel counts, rows = truth, columns = prediction."""
        return np.asarray(self._dense.total_cm) + np.asarray(self._sparse.total_cm)

    def result(self) -> dict:
        return scores_from_confusion(self.confusion_matrix, self.background)


def scores_from_confusion(cm, background: int = 0) -> dict:
    """Pixel accuracy, per-class IoU and Dice, their means over present classes, foreground IoU."""
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    truth, predicted = cm.sum(1), cm.sum(0)
    union = truth + predicted - tp
    present = union > 0
    iou = np.where(present, tp / np.maximum(union, 1), np.nan)
    dice = np.where(present, 2 * tp / np.maximum(truth + predicted, 1), np.nan)
    bg = background
    fg_tp = cm.sum() - truth[bg] - predicted[bg] + cm[bg, bg]  # fg truth predicted as any fg
    fg_union = cm.sum() - cm[bg, bg]
    return {"pixel_accuracy": float(tp.sum() / max(cm.sum(), 1)),
            "mean_iou": float(np.nanmean(iou)) if present.any() else float("nan"),
            "mean_dice": float(np.nanmean(dice)) if present.any() else float("nan"),
            "foreground_iou": float(fg_tp / fg_union) if fg_union else float("nan"),
            "iou": iou.tolist(), "dice": dice.tolist()}


def segmentation_scores(y_true, y_pred, num_classes: int, background: int = 0) -> dict:
    """:class:`SegmentationScores` over one set of arrays."""
    scores = SegmentationScores(num_classes, background)
    scores.update(y_true, y_pred)
    return scores.result()
