"""Multi-object canvases: real MNIST-10k digits (or Fashion-MNIST items) pasted onto a blank
canvas at random scales and positions, with boxes, class labels and per-pixel instance maps — the
detection and segmentation data of this project, where no COCO/VOC exists.

Protocol (deterministic from ``seed``): a canvas of ``size``² pixels receives 1..``max_objects``
objects; each is a random source image of the split, resized by a factor drawn uniformly from
``scale`` (bilinear, scipy.ndimage.zoom), placed uniformly at random fully inside the canvas and
composited by pixel-wise maximum. A placement whose box overlaps an earlier box with IoU >
``max_overlap`` is redrawn (up to 50 tries, then the object is dropped), so objects may overlap
but never hide each other. An object's box is the extent of its pixels ≥ ``ink`` (relative xyxy:
x_min, y_min, x_max, y_max in [0, 1]), its class is the source label; the instance map gives
each pixel the 1-based index of the object brightest there (0 background, pixels < ``ink``).
``distort`` > 0 first gives each pasted object its own random affine distortion (rotation up to
±20°, shear up to ±0.3, per-axis scale 1 ± 0.15, all times ``distort``), so canvases built from a
few thousand source images still show new shapes; with the default 0 no draw is made for it and
the canvases are exactly those of the plain protocol.
Train canvases use only the source's train split, test canvases only its test split, so no
source image appears in both (MNIST-10k: the 8,000/2,000 stratified split, seed 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOURCES = ("mnist10k", "fashion_mnist")


@dataclass(frozen=True)
class Canvases:
    images: np.ndarray          # uint8 [N, size, size, 1]
    boxes: list                 # per canvas: float32 [n, 4] relative xyxy
    classes: list               # per canvas: int32 [n]
    instance_maps: np.ndarray   # uint8 [N, size, size]: 0 background, i + 1 for object i

    def __len__(self):
        return len(self.images)


def _box_iou(box, boxes):
    if not boxes:
        return np.zeros(0)
    boxes = np.asarray(boxes)
    lo, hi = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), 1)
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], 1)
    return inter / (np.prod(box[2:] - box[:2]) + areas - inter)


def distort_image(image, rng, strength=1.0):
    """``image`` [h, w] under a random affine map about its centre: rotation up to
    ±20°·strength, shear up to ±0.3·strength, per-axis scale 1 ± 0.15·strength (bilinear)."""
    from scipy.ndimage import affine_transform

    angle = np.deg2rad(rng.uniform(-20, 20) * strength)
    shear = rng.uniform(-0.3, 0.3) * strength
    scale_y, scale_x = 1 + rng.uniform(-0.15, 0.15, 2) * strength
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    forward = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([scale_y, scale_x])
    inverse = np.linalg.inv(forward)  # affine_transform maps output coordinates to input ones
    centre = (np.asarray(image.shape, np.float64) - 1) / 2
    return affine_transform(image, inverse, offset=centre - inverse @ centre, order=1)


def compose(source_images, source_labels, count, *, size=64, max_objects=4, scale=(0.8, 1.6),
            max_overlap=0.3, ink=0.5, distort=0.0, seed=0) -> Canvases:
    """``count`` canvases from float images in [0, 1] ``[M, h, w]`` and their labels."""
    from scipy.ndimage import zoom

    source_images = np.asarray(source_images, np.float32)
    if source_images.ndim == 4 and source_images.shape[-1] == 1:
        source_images = source_images[..., 0]
    if source_images.ndim != 3 or len(source_images) == 0 or len(source_images) != len(source_labels):
        raise ValueError(f"need [M, h, w] images with M labels, got {source_images.shape} and "
                         f"{len(source_labels)} labels")
    if distort < 0:
        raise ValueError(f"distort must be >= 0, got {distort}")
    if max(source_images.shape[1:]) * scale[1] > size:
        raise ValueError(f"objects up to {max(source_images.shape[1:]) * scale[1]:.0f} px do not "
                         f"fit a {size} px canvas; lower scale={scale}")
    rng = np.random.default_rng(seed)
    images = np.zeros((count, size, size), np.float32)
    maps = np.zeros((count, size, size), np.uint8)
    all_boxes, all_classes = [], []
    for n in range(count):
        boxes, classes = [], []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            index = int(rng.integers(len(source_images)))
            source = distort_image(source_images[index], rng, distort) if distort else source_images[index]
            patch = np.clip(zoom(source, rng.uniform(*scale), order=1), 0, 1)
            ys, xs = np.nonzero(patch >= ink)
            if len(ys) == 0:
                continue
            for _ in range(50):
                top = int(rng.integers(0, size - patch.shape[0] + 1))
                left = int(rng.integers(0, size - patch.shape[1] + 1))
                box = np.array([left + xs.min(), top + ys.min(), left + xs.max() + 1,
                                top + ys.max() + 1], np.float32) / size
                if np.all(_box_iou(box, boxes) <= max_overlap):
                    break
            else:
                continue
            region = (slice(top, top + patch.shape[0]), slice(left, left + patch.shape[1]))
            brighter = (patch >= ink) & (patch > images[n][region])
            maps[n][region][brighter] = len(boxes) + 1
            images[n][region] = np.maximum(images[n][region], patch)
            boxes.append(box)
            classes.append(int(source_labels[index]))
        all_boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
        all_classes.append(np.asarray(classes, np.int32))
    return Canvases(np.round(images * 255).astype(np.uint8)[..., None], all_boxes, all_classes, maps)


def canvases(split="train", count=1000, source="mnist10k", seed=None, **options) -> Canvases:
    """Canvases of one split from the real ``source`` dataset's same split (see the module
    docstring); ``seed`` defaults to 0 for train and 1 for test."""
    from kerasdl.registry import load_dataset

    if source not in SOURCES:
        raise ValueError(f"unknown canvas source {source!r}; choose one of {SOURCES}")
    x, y = load_dataset(source, split=split, as_numpy=True)
    return compose(x, y, count, seed=(0 if split == "train" else 1) if seed is None else seed,
                   **options)


def canvas_dataset(data: Canvases, targets, batch_size, *, training, seed=0):
    """tf.data batches (images float32 in [0, 1], per-anchor targets) via ``from_arrays``."""
    from kerasdl.data.pipelines import from_arrays

    if len(targets) != len(data):
        raise ValueError(f"{len(targets)} target rows for {len(data)} canvases")
    return from_arrays(data.images, np.asarray(targets, np.float32), batch_size, training=training,
                       seed=seed)
