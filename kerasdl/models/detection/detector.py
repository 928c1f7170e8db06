"""The shared shape of kerasdl's single-stage anchor detectors (SSD, YOLO v3).

A detector maps an image to raw per-anchor predictions ``[B, A, 5 + C]`` (4 box numbers, then
C + 1 numbers whose meaning the subclass fixes) in the anchor order of
``kerasdl.detection.anchors.level_anchors`` over its head's feature maps. It knows its anchors,
builds its own training targets from ground truth (``batch_targets``) and turns one image's raw output
into scored boxes (``decode``), which ``kerasdl.detection.export`` wraps with NMS for serving.
"""
from __future__ import annotations

import numpy as np

from kerasdl.detection.anchors import anchors_per_pixel, level_anchors
from kerasdl.models.base import FunctionalModel

HEAD_PREFIX = "head"


class AnchorDetector(FunctionalModel):
    """Subclasses define ``build_graph`` (with ``sizes`` and ``ratios`` hyperparameters and a head
    from ``heads.anchor_head``), ``batch_targets`` and ``decode``."""

    @property
    def feature_shapes(self) -> list[tuple[int, int]]:
        """(h, w) of each head level, from the prediction convs."""
        shapes, i = [], 0
        while any(layer.name == f"{HEAD_PREFIX}{i}_predict" for layer in self.layers):
            shapes.append(tuple(self.get_layer(f"{HEAD_PREFIX}{i}_predict").output.shape[1:3]))
            i += 1
        return shapes

    @property
    def num_anchors_per_pixel(self) -> int:
        config = self.hyperparameters
        return len(anchors_per_pixel(config["sizes"][0], config["ratios"]))

    def anchors(self) -> np.ndarray:
        """Relative ``xyxy`` anchors ``[A, 4]`` matching the prediction rows."""
        config = self.hyperparameters
        return level_anchors(self.feature_shapes, config["sizes"], config["ratios"])

    def batch_targets(self, boxes_list, classes_list) -> np.ndarray:  # pragma: no cover
        """Training targets ``[N, A, 5]`` of N images (lists of per-image boxes and classes)."""
        raise NotImplementedError

    def decode(self, raw):  # pragma: no cover - abstract
        """One image's raw ``[A, 5 + C]`` -> (boxes [A, 4] xyxy, scores [A], classes [A])."""
        raise NotImplementedError


def check_levels(sizes, ratios, levels: int):
    """Every level needs one size list; all levels the same anchor count per pixel."""
    if len(sizes) != levels:
        raise ValueError(f"{levels} feature levels but {len(sizes)} anchor size lists: {sizes}")
    counts = {len(anchors_per_pixel(s, ratios)) for s in sizes}
    if len(counts) != 1:
        raise ValueError(f"every level needs the same number of sizes, got {sizes}")
    return counts.pop()
