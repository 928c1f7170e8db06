"""Box formats, pairwise IoU and GIoU.

kerasdl's detection code keeps boxes as corners ``xyxy`` = (x_min, y_min, x_max, y_max), in
pixels or relative to the image side; ``convert`` passes any other format through Keras'
``keras.utils.bounding_boxes.convert_format`` ("xywh", "center_xywh", "center_yxhw", "yxyx", ...).
Areas are continuous (w·h, no "+1" pixel convention), as in COCO.
"""
from __future__ import annotations

import keras
import numpy as np

ops = keras.ops


def convert(boxes, source: str, target: str, height=None, width=None):
    """``boxes [..., 4]`` from ``source`` to ``target`` format (Keras' converter)."""
    return keras.utils.bounding_boxes.convert_format(boxes, source, target, height=height, width=width)


def _backend(*arrays):
    """numpy for numpy inputs (the data pipeline: no TF dispatch per call), else keras.ops."""
    return np if all(isinstance(a, np.ndarray) for a in arrays) else ops


def _check(boxes, name, xp):
    boxes = boxes.astype("float32") if xp is np else ops.convert_to_tensor(boxes, "float32")
    if boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have a last dimension of 4 (x_min, y_min, x_max, y_max), "
                         f"got shape {tuple(boxes.shape)}")
    return boxes


def area(boxes):
    """Area of ``xyxy`` boxes (0 for inverted ones)."""
    xp = _backend(boxes)
    boxes = _check(boxes, "boxes", xp)
    return _area(boxes, xp)


def _area(boxes, xp):
    return (xp.maximum(boxes[..., 2] - boxes[..., 0], 0.0)
            * xp.maximum(boxes[..., 3] - boxes[..., 1], 0.0))


def _pairwise(a, b):
    xp = _backend(a, b)
    a, b = _check(a, "boxes1", xp)[..., :, None, :], _check(b, "boxes2", xp)[..., None, :, :]
    lo, hi = xp.maximum(a[..., :2], b[..., :2]), xp.minimum(a[..., 2:], b[..., 2:])
    inter = xp.prod(xp.maximum(hi - lo, 0.0), axis=-1)
    union = _area(a, xp) + _area(b, xp) - inter
    return xp, a, b, inter, union


def _ratio(xp, num, den):
    return xp.where(den > 0, num / xp.maximum(den, 1e-12), 0.0)


def pairwise_iou(boxes1, boxes2):
    """IoU matrix ``[..., N, M]`` of ``xyxy`` boxes ``[..., N, 4]`` and ``[..., M, 4]``
    (Jaccard index |A∩B| / |A∪B|; 0 where the union is empty). numpy in, numpy out."""
    xp, _, _, inter, union = _pairwise(boxes1, boxes2)
    return _ratio(xp, inter, union)


def pairwise_giou(boxes1, boxes2):
    """Generalised IoU (Rezatofighi et al. 2019): IoU − |C \\ (A∪B)| / |C|, C the smallest box
    enclosing both; in [-1, 1]."""
    xp, a, b, inter, union = _pairwise(boxes1, boxes2)
    hull = xp.prod(xp.maximum(a[..., 2:], b[..., 2:]) - xp.minimum(a[..., :2], b[..., :2]), axis=-1)
    return _ratio(xp, inter, union) - _ratio(xp, hull - union, hull)
