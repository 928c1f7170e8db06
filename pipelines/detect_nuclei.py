#!/usr/bin/env python
"""Faster R-CNN (or R-FCN) on real nuclei: boxes from the instance labels, VOC and COCO mAP on the
held-out tiles, an overlay, the SavedModel / batch-1 TFLite / NMS-inside detector export.

Command:  python pipelines/detect_nuclei.py                       (faster_rcnn; --models rfcn)
          python pipelines/detect_nuclei.py --fast --out-dir /tmp/x   (CI smoke run)
Data:     StarDist's 512×512 image with 125 labelled nuclei (kerasdl.data.nuclei; PyPI stardist
          0.9.2), its spatial split: train = columns < 384, test = the disjoint --tile² tiles
          of columns ≥ 384 (16 tiles of 64² by default; 4 of 128² with --tile 128). Train set:
          --train-crops (default 800) random tile-sized crops of the train region (seed 0) with
          random horizontal/vertical flips. Boxes = regionprops of the
          instance labels inside the crop/tile (a nucleus cut by the border is boxed as its
          visible part; parts under 3 px on a side are dropped), one class "nucleus".
          Intensities: the loader's train-region percentile scaling, clipped to [0, 1].
Recipe:   ResNet-18 at width 1/4, stride-8 features (8×8 at 64 px), RPN anchors of 8/13/20 px ×
          ratios 1/0.7 (4 per pixel), tile/2 proposals (NMS 0.7), RoIAlign 7×7, two FC-128
          layers; TwoStageLoss (approximate joint training); Adam, cosine from 2e-3, batch 16,
          4 epochs.
Metrics:  on the test tiles after NMS (IoU 0.5, score ≥ 0.05, ≤ 100 boxes): mAP@0.5 (VOC
          11-point, all-point) and COCO AP@[.5:.95], AP50 from pycocotools.
Hardware: 2-core AMD EPYC (AVX2), no GPU, shared with other jobs.
Last run: 2026-12-02, `python pipelines/detect_nuclei.py --docs-dir docs` (faster_rcnn, 64 px
          tiles, 800 crops, 4 epochs × 50 steps) at load average 5-8 on the 2 cores (other
          helpers training): trained 224 s (0.4-0.6 s/step after the first epoch), test (16
          tiles, 42 nuclei): mAP@0.5 0.775 (VOC 11-point) / 0.807 (all-point), COCO AP@[.5:.95]
          0.519, AP50 0.802, AP75 0.578; batch-1 TFLite parity 9.3e-6, detector.tflite boxes vs
          TF 1.8e-7. (128 px tiles: 12 s/step at that load — the O(anchors²) NMS and IoU.)
Output:   saved_models/detect_nuclei_<model>/: metrics.json, logs/, model.keras, saved_model/,
          model_batch1_fp32.tflite, detector.tflite; docs/detect_nuclei_<model>.png (--docs-dir).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = ("faster_rcnn", "rfcn")
MIN_SIDE = 3
SIZES_PX, RATIOS = (8, 13, 20), (1.0, 0.7)  # anchor sides in pixels (nuclei are 6-25 px)


def model_kwargs(tile):
    return {"input_shape": (tile, tile, 1), "num_classes": 1, "ratios": RATIOS,
            "sizes": tuple(round(s / tile, 4) for s in SIZES_PX), "num_proposals": tile // 2}


FAST = {"crops": 32, "epochs": 1, "batch": 8}


def boxed(images, labels):
    """Canvases-shaped data: uint8 images, relative xyxy boxes from regionprops, class 0."""
    from kerasdl.data.canvases import Canvases
    from kerasdl.data.nuclei import instance_boxes

    boxes = []
    for lab in labels:
        _, b = instance_boxes(lab)                       # (y0, x0, y1, x1) pixels
        b = b[:, [1, 0, 3, 2]]
        boxes.append((b[np.all(b[:, 2:] - b[:, :2] >= MIN_SIDE, 1)] / lab.shape[0]).astype("float32"))
    images = np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)
    return Canvases(images, boxes, [np.zeros(len(b), np.int32) for b in boxes],
                    np.zeros_like(labels, np.uint8))


def train_crops(count, tile, seed=0):
    from kerasdl.data.nuclei import nuclei

    region, rng = nuclei("train"), np.random.default_rng(seed)
    h, w = region.labels.shape
    images, labels = [], []
    for _ in range(count):
        y, x = int(rng.integers(0, h - tile + 1)), int(rng.integers(0, w - tile + 1))
        image, lab = region.image[y:y + tile, x:x + tile], region.labels[y:y + tile, x:x + tile]
        for axis in (0, 1):
            if rng.random() < 0.5:
                image, lab = np.flip(image, axis), np.flip(lab, axis)
        images.append(image[..., None])
        labels.append(lab)
    return boxed(np.stack(images), np.stack(labels))


def main(argv=None):
    import detect_digits
    from kerasdl.arguments import choose
    from kerasdl.data.nuclei import nuclei

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="faster_rcnn", help=f"comma list of {MODELS}")
    parser.add_argument("--fast", action="store_true", help="tiny model, a few steps (CI)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--train-crops", type=int, default=800)
    parser.add_argument("--tile", type=int, default=64, help="crop / test tile side (64 or 128)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints")
    parser.add_argument("--out-dir", default="saved_models")
    parser.add_argument("--docs-dir", default=None, help="also write the overlay PNG here")
    args = parser.parse_args(argv)
    names = choose(parser, "--models", args.models, MODELS)
    if args.fast:
        args.epochs, args.batch_size, args.train_crops = FAST["epochs"], FAST["batch"], FAST["crops"]

    train_set = train_crops(args.train_crops, args.tile)
    test_set = boxed(*nuclei("test").tiles(args.tile))
    return {name: detect_digits.run(
        name, train_set, test_set, args, "detect_nuclei", num_classes=1, max_detections=100,
        title=f"{name} on held-out nuclei tiles", panels=(8, 8), model_kwargs=model_kwargs(args.tile),
        train_crops=len(train_set), test_tiles=len(test_set),
        test_nuclei=int(sum(len(b) for b in test_set.boxes))) for name in names}


if __name__ == "__main__":
    main()
