"""Segmentation scores and the Dice loss against direct numpy computations."""
import keras
import numpy as np
import pytest

from kerasdl.losses import DiceLoss
from kerasdl.metrics import SegmentationScores, segmentation_scores


def _numpy_scores(t, p, classes):
    iou, dice = [], []
    for c in range(classes):
        inter, union = np.sum((t == c) & (p == c)), np.sum((t == c) | (p == c))
        if union:
            iou.append(inter / union)
            dice.append(2 * inter / (np.sum(t == c) + np.sum(p == c)))
    fg = np.sum((t > 0) & (p > 0)) / np.sum((t > 0) | (p > 0))
    return {"pixel_accuracy": np.mean(t == p), "mean_iou": np.mean(iou), "mean_dice": np.mean(dice),
            "foreground_iou": fg}


@pytest.mark.parametrize("classes", [2, 4])
def test_scores_match_numpy_and_keras_iou(classes):
    rng = np.random.default_rng(classes)
    t = rng.integers(0, classes, (3, 9, 7))
    logits = rng.normal(size=(3, 9, 7, classes)) + 2 * np.eye(classes)[t] * (rng.random(t.shape) < 0.6)[..., None]
    p = logits.argmax(-1)
    expected = _numpy_scores(t, p, classes)
    streamed = SegmentationScores(classes)
    streamed.update(t[:2], logits[:2])  # dense scores
    streamed.update(t[2:], p[2:])  # labels
    for got in (segmentation_scores(t, logits, classes), streamed.result()):
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=1e-9), key
    iou1 = keras.metrics.IoU(classes, target_class_ids=[1])
    iou1.update_state(t, p)
    assert segmentation_scores(t, p, classes)["iou"][1] == pytest.approx(float(iou1.result()), abs=1e-6)


def test_absent_classes_are_left_out_of_the_means():
    t = np.zeros((1, 4, 4), int)
    t[0, :2] = 1
    scores = segmentation_scores(t, t, 3)
    assert scores["mean_iou"] == 1.0 and np.isnan(scores["iou"][2])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="does not match"):
        segmentation_scores(np.zeros((1, 4, 4), int), np.zeros((1, 4, 5), int), 2)
    with pytest.raises(ValueError, match="class scores"):
        segmentation_scores(np.zeros((1, 4, 4), int), np.zeros((1, 4, 4, 3)), 2)


def test_dice_loss_matches_numpy_and_round_trips():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, (2, 5, 6))
    logits = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    prob = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    onehot = np.eye(3)[t]
    dice = 2 * (prob * onehot).sum((0, 1, 2)) / (prob.sum((0, 1, 2)) + onehot.sum((0, 1, 2)))
    ce = -np.log(np.take_along_axis(prob, t[..., None], -1)).mean()
    assert float(DiceLoss()(t, logits)) == pytest.approx(1 - dice.mean(), rel=1e-5)
    loss = DiceLoss(ce_weight=0.5)
    assert float(loss(t, logits)) == pytest.approx(1 - dice.mean() + 0.5 * ce, rel=1e-5)
    assert DiceLoss.from_config(loss.get_config()).ce_weight == 0.5
    # a perfect prediction has (nearly) zero Dice loss
    assert float(DiceLoss()(t, 50.0 * onehot.astype("float32"))) < 1e-6
