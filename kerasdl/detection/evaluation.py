"""Detection mean average precision: VOC 11-point, all-point (VOC 2010+), and COCO's 101-point
AP averaged over IoU thresholds 0.50:0.05:0.95.

Matching follows COCOeval: per image and class, detections by descending score (at most
``max_detections``) each take the unmatched ground-truth box of highest IoU ≥ the threshold
(a true positive), else count as false positives. (The VOC devkit differs only in that a
detection whose best box is already taken is a false positive even if a second box overlaps it.)
Classes without ground truth are left out of the mean. Areas are continuous (no "+1").
"""
from __future__ import annotations

import numpy as np

from kerasdl.detection.boxes import pairwise_iou

COCO_THRESHOLDS = np.linspace(0.5, 0.95, 10)
METHODS = ("voc11", "all", "coco101")


def average_precision(recall, precision, method="all") -> float:
    """AP of one precision/recall curve (points in detection order)."""
    recall, precision = np.asarray(recall, float), np.asarray(precision, float)
    if method not in METHODS:
        raise ValueError(f"unknown AP method {method!r}; choose one of {METHODS}")
    if len(recall) == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # max precision at recall >= r
    if method == "all":
        r = np.concatenate([[0.0], recall])
        return float(np.sum((r[1:] - r[:-1]) * envelope))
    points = np.linspace(0, 1, 11 if method == "voc11" else 101)
    idx = np.searchsorted(recall, points, side="left")
    return float(np.mean(np.where(idx < len(recall), envelope[np.minimum(idx, len(recall) - 1)], 0.0)))


def _match(det_boxes, gt_boxes, thresholds):
    """True-positive flags [T, D] of score-sorted detections against one image's boxes."""
    tp = np.zeros((len(thresholds), len(det_boxes)), bool)
    if len(det_boxes) == 0 or len(gt_boxes) == 0:
        return tp
    iou = np.asarray(pairwise_iou(det_boxes, gt_boxes))
    for t, threshold in enumerate(thresholds):
        taken = np.zeros(len(gt_boxes), bool)
        for d in range(len(det_boxes)):
            candidates = np.where(taken, -1.0, iou[d])
            g = int(candidates.argmax())
            if candidates[g] >= min(threshold, 1 - 1e-10):
                taken[g], tp[t, d] = True, True
    return tp


def _check_image(entry, name, with_scores):
    keys = ("boxes", "scores", "classes") if with_scores else ("boxes", "classes")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise KeyError(f"{name} entries need keys {keys}; missing {missing}")
    out = [np.asarray(entry[k], "float32" if k != "classes" else "int64") for k in keys]
    out[0] = out[0].reshape(-1, 4)
    if any(len(v) != len(out[0]) for v in out[1:]):
        raise ValueError(f"{name}: boxes, scores and classes lengths differ")
    return out


def precision_recall(detections, ground_truths, iou_thresholds=(0.5,), max_detections=100):
    """Per class: (recall [T, D], precision [T, D]) over all images, detections pooled by score.

    ``detections``/``ground_truths``: one dict per image, {"boxes" [n, 4] xyxy, "scores" [n]
    (detections only), "classes" [n] int}.
    """
    if len(detections) != len(ground_truths):
        raise ValueError(f"{len(detections)} detection entries for {len(ground_truths)} images")
    thresholds = np.asarray(iou_thresholds, float)
    per_class: dict = {}
    for det, gt in zip(detections, ground_truths):
        d_boxes, d_scores, d_classes = _check_image(det, "detections", True)
        g_boxes, g_classes = _check_image(gt, "ground_truths", False)
        for c in np.union1d(d_classes, g_classes):
            order = np.argsort(-d_scores[d_classes == c], kind="mergesort")[:max_detections]
            boxes, scores = d_boxes[d_classes == c][order], d_scores[d_classes == c][order]
            entry = per_class.setdefault(int(c), {"scores": [], "tp": [], "gt": 0})
            entry["scores"].append(scores)
            entry["tp"].append(_match(boxes, g_boxes[g_classes == c], thresholds))
            entry["gt"] += int(np.sum(g_classes == c))
    curves = {}
    for c, entry in per_class.items():
        if entry["gt"] == 0:
            continue
        order = np.argsort(-np.concatenate(entry["scores"]), kind="mergesort")
        tp = np.concatenate(entry["tp"], 1)[:, order]
        tps, fps = np.cumsum(tp, 1), np.cumsum(~tp, 1)
        curves[c] = (tps / entry["gt"], tps / np.maximum(tps + fps, np.finfo(float).eps))
    return curves


def mean_average_precision(detections, ground_truths, iou_threshold=0.5, method="voc11",
                           max_detections=100) -> dict:
    """{"map": mean AP over classes, "per_class": {class: AP}} at one IoU threshold."""
    curves = precision_recall(detections, ground_truths, (iou_threshold,), max_detections)
    per_class = {c: average_precision(r[0], p[0], method) for c, (r, p) in curves.items()}
    return {"map": float(np.mean(list(per_class.values()))) if per_class else 0.0,
            "per_class": per_class}


def coco_map(detections, ground_truths, max_detections=100) -> dict:
    """COCO's AP@[.5:.95] (101-point AP averaged over 10 IoU thresholds and classes), AP@.5 and
    AP@.75, all area ranges together (what COCOeval reports as stats[0:3])."""
    curves = precision_recall(detections, ground_truths, COCO_THRESHOLDS, max_detections)
    if not curves:
        return {"map": 0.0, "map50": 0.0, "map75": 0.0}
    ap = np.array([[average_precision(r[t], p[t], "coco101") for t in range(len(COCO_THRESHOLDS))]
                   for r, p in curves.values()])  # [classes, T]
    return {"map": float(ap.mean()), "map50": float(ap[:, 0].mean()), "map75": float(ap[:, 5].mean())}
