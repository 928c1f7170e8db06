"""The reference COCO evaluation (pycocotools' COCOeval, extra ``detection``) on kerasdl's
per-image detection/ground-truth dicts (relative ``xyxy`` boxes, see ``evaluation``)."""
from __future__ import annotations

import contextlib
import io

import numpy as np


def _annotations(entries, image_size, with_scores):
    out = []
    for image_id, entry in enumerate(entries):
        boxes = np.asarray(entry["boxes"], np.float64).reshape(-1, 4) * image_size
        for k, (box, cls) in enumerate(zip(boxes, np.asarray(entry["classes"]).reshape(-1))):
            w, h = box[2] - box[0], box[3] - box[1]
            ann = {"image_id": image_id, "category_id": int(cls), "bbox": [box[0], box[1], w, h],
                   "area": w * h, "iscrowd": 0, "id": len(out) + 1}
            if with_scores:
                ann["score"] = float(entry["scores"][k])
            out.append(ann)
    return out


def cocoeval(detections, ground_truths, image_size=1.0, num_classes=None) -> dict:
    """COCOeval's bbox stats: {"map", "map50", "map75", "precision" [T, R, K, area, maxDets]}.
    ``image_size`` scales the relative boxes to pixels (COCO's small/medium/large areas)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    classes = np.concatenate([np.asarray(g["classes"]).reshape(-1) for g in ground_truths])
    num_classes = int(classes.max()) + 1 if num_classes is None else num_classes
    gt = COCO()
    gt.dataset = {"images": [{"id": i} for i in range(len(ground_truths))],
                  "categories": [{"id": c} for c in range(num_classes)],
                  "annotations": _annotations(ground_truths, image_size, False)}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dets = _annotations(detections, image_size, True)
        dt = gt.loadRes(dets) if dets else COCO()
        evaluator = COCOeval(gt, dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = evaluator.stats
    return {"map": float(stats[0]), "map50": float(stats[1]), "map75": float(stats[2]),
            "precision": evaluator.eval["precision"]}
