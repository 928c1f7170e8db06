"""Region-of-interest feature extraction: RoI max pooling (Fast R-CNN), RoIAlign (Mask R-CNN) and
position-sensitive RoI pooling (R-FCN), as Keras layers over ``features [B, H, W, C]`` and
relative ``xyxy`` boxes ``[B, R, 4]`` (x_min, y_min, x_max, y_max in [0, 1] of the image side).

RoI pooling (notes 003 "兴趣区域(RoI)池化层": the box is split evenly into n×m bins and each bin
outputs its maximum, so every box gives n·m values whatever its size) follows Fast R-CNN /
torchvision ``roi_pool``: box corners are rounded to feature cells, the box spans
``max(end − start + 1, 1)`` cells, bin i covers cells ⌊i·h/n⌋ … ⌈(i+1)·h/n⌉ − 1 (clipped to the
map), an empty bin outputs 0.

RoIAlign (He et al. 2017; torchvision ``roi_align(aligned=True)``): no rounding; the box in
feature coordinates (x·W − ½: pixel k has its centre at k) is split into n×m bins, each bin
averages ``sampling_ratio``² bilinear samples at the centres of a regular sub-grid. Bilinear
interpolation at a clamped coordinate y is Σ_h max(0, 1 − |y − h|)·F[h]; the sample grid is
separable, so the layer builds per-box row and column weight matrices (already averaged over each
bin's samples) and contracts them with the map — two batched matmuls, no gather, XLA- and
TFLite-friendly. ``tf.image.crop_and_resize`` samples box corners at pixel centres with the end
points included (y₁·(H−1) … y₂·(H−1)), not at bin sub-centres; it gives RoIAlign only after
moving the boxes (``crop_and_resize_boxes``, tested), and only where every sample lies between
pixel centres (outside it writes ``extrapolation_value`` where RoIAlign clamps); it also has no
TFLite built-in, so the layers do not use it.

Position-sensitive RoI pooling (Dai et al. 2016): the map holds k² groups of D channels; bin
(i, j) of a box averages only group i·k + j over the bin. Here the bin average is RoIAlign's
(bilinear samples), i.e. PS-RoIAlign.
"""
from __future__ import annotations

import keras
import numpy as np

ops = keras.ops


def _check(features, boxes, name):
    if len(features.shape) != 4 or len(boxes.shape) != 3 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} takes features [B, H, W, C] and boxes [B, R, 4], got "
                         f"{tuple(features.shape)} and {tuple(boxes.shape)}")


def _pair(size):
    size = (size, size) if isinstance(size, int) else tuple(size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"output_size must be a positive int or (height, width), got {size}")
    return size


def bin_weights(lo, hi, bins: int, cells: int, samples: int):
    """RoIAlign's interpolation weights ``[B, R, bins, cells]`` along one axis from box ends
    ``[B, R]``: row i averages the bilinear weights of its ``samples`` points
    lo + (i + (s + ½)/samples)·(hi − lo)/bins, s = 0..samples−1 (clamped to the map)."""
    fractions = (np.arange(bins * samples, dtype="float32") + 0.5) / (bins * samples)
    points = lo[..., None] + fractions * (hi - lo)[..., None]           # [B, R, bins·samples]
    points = ops.clip(points, 0.0, cells - 1.0)
    grid = np.arange(cells, dtype="float32")
    hat = ops.maximum(1.0 - ops.abs(points[..., None] - grid), 0.0)      # [B, R, bins·s, cells]
    average = np.kron(np.eye(bins, dtype="float32"), np.full((1, samples), 1 / samples, "float32"))
    return ops.einsum("ip,brpc->bric", average, hat)


def roi_align(features, boxes, output_size=7, sampling_ratio=2):
    """RoIAlign ``[B, R, n, m, C]`` of relative ``xyxy`` boxes ``[B, R, 4]``."""
    _check(features, boxes, "roi_align")
    (n, m), (h, w) = _pair(output_size), features.shape[1:3]
    x0, y0, x1, y1 = (boxes[..., i] for i in range(4))
    wy = bin_weights(y0 * h - 0.5, y1 * h - 0.5, n, h, sampling_ratio)   # [B, R, n, H]
    wx = bin_weights(x0 * w - 0.5, x1 * w - 0.5, m, w, sampling_ratio)   # [B, R, m, W]
    rows = ops.einsum("brnh,bhwc->brnwc", wy, features)
    return ops.einsum("brmw,brnwc->brnmc", wx, rows)


def ps_roi_align(features, boxes, group_size=3, sampling_ratio=2):
    """Position-sensitive RoIAlign ``[B, R, k, k, D]`` of a map with k²·D channels (group
    i·k + j, D channels each, feeds bin (i, j))."""
    _check(features, boxes, "ps_roi_align")
    k, (h, w, c) = int(group_size), features.shape[1:4]
    if c % (k * k):
        raise ValueError(f"position-sensitive pooling with k={k} needs a multiple of k² = {k * k} "
                         f"channels, got {c}")
    x0, y0, x1, y1 = (boxes[..., i] for i in range(4))
    wy = bin_weights(y0 * h - 0.5, y1 * h - 0.5, k, h, sampling_ratio)   # [B, R, k, H]
    wx = bin_weights(x0 * w - 0.5, x1 * w - 0.5, k, w, sampling_ratio)   # [B, R, k, W]
    groups = ops.reshape(features, (-1, h, w, k, k, c // (k * k)))
    rows = ops.einsum("brih,bhwijd->briwjd", wy, groups)
    return ops.einsum("brjw,briwjd->brijd", wx, rows)


def _bin_masks(lo, hi, bins: int, cells: int):
    """Fast R-CNN's quantised bins along one axis: mask ``[..., bins, cells]``."""
    start, end = ops.round(lo), ops.round(hi)
    size = ops.maximum(end - start + 1.0, 1.0) / bins
    i = np.arange(bins, dtype="float32")
    first = ops.clip(ops.floor(i * size[..., None]) + start[..., None], 0, cells)
    last = ops.clip(ops.ceil((i + 1) * size[..., None]) + start[..., None], 0, cells)
    grid = np.arange(cells, dtype="float32")
    return (grid >= first[..., None]) & (grid < last[..., None])


def roi_max_pool(features, boxes, output_size=7):
    """RoI max pooling ``[B, R, n, m, C]`` (quantised bins; empty bins give 0)."""
    _check(features, boxes, "roi_max_pool")
    (n, m), (h, w) = _pair(output_size), features.shape[1:3]
    x0, y0, x1, y1 = (boxes[..., i] for i in range(4))
    my, mx = _bin_masks(y0 * h, y1 * h, n, h), _bin_masks(x0 * w, x1 * w, m, w)
    lowest = ops.convert_to_tensor(np.finfo("float32").min, features.dtype)
    f = features[:, None, None, :, :, :]                                  # [B, 1, 1, H, W, C]
    cols = ops.max(ops.where(mx[:, :, :, None, :, None], f, lowest), 4)   # [B, R, m, H, C]
    out = ops.max(ops.where(my[:, :, :, None, :, None], cols[:, :, None], lowest), 4)
    return ops.where(out <= lowest, 0.0, out)                             # [B, R, n, m, C]


def crop_and_resize_boxes(boxes, image_shape, output_size, sampling_ratio):
    """Boxes (``tf.image.crop_and_resize``'s normalised ``yxyx``) for which its
    (n·s)×(m·s) crop samples exactly RoIAlign's points (average-pool it s×s to get RoIAlign)."""
    (h, w), (n, m), s = image_shape, _pair(output_size), sampling_ratio
    x0, y0, x1, y1 = (np.asarray(boxes, "float32")[..., i] for i in range(4))

    def axis(lo, hi, cells, points):
        lo, hi = lo * cells - 0.5, hi * cells - 0.5
        step = (hi - lo) / points
        first = lo + step / 2
        return first / (cells - 1), (first + step * (points - 1)) / (cells - 1)

    ya, yb = axis(y0, y1, h, n * s)
    xa, xb = axis(x0, x1, w, m * s)
    return np.stack([ya, xa, yb, xb], -1)


class _RoILayer(keras.layers.Layer):
    """Inputs ``[features, boxes]``; boxes are treated as constants (no gradient to them)."""

    def __init__(self, output_size=7, sampling_ratio=2, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _pair(output_size)
        self.sampling_ratio = int(sampling_ratio)

    def compute_output_shape(self, shapes):
        (b, _, _, c), (_, r, _) = shapes
        return (b, r, *self.output_size, c)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size,
                "sampling_ratio": self.sampling_ratio}


@keras.saving.register_keras_serializable(package="kerasdl")
class RoIAlign(_RoILayer):
    """``[features [B, H, W, C], boxes [B, R, 4]] -> [B, R, n, m, C]`` (see ``roi_align``)."""

    def call(self, inputs):
        features, boxes = inputs
        return roi_align(features, ops.stop_gradient(boxes), self.output_size, self.sampling_ratio)


@keras.saving.register_keras_serializable(package="kerasdl")
class RoIMaxPool(_RoILayer):
    """``[features, boxes] -> [B, R, n, m, C]`` quantised RoI max pooling (``roi_max_pool``)."""

    def call(self, inputs):
        features, boxes = inputs
        return roi_max_pool(features, ops.stop_gradient(boxes), self.output_size)


@keras.saving.register_keras_serializable(package="kerasdl")
class PSRoIAlign(_RoILayer):
    """``[score maps [B, H, W, k²·D], boxes] -> [B, R, k, k, D]`` (``ps_roi_align``)."""

    def call(self, inputs):
        features, boxes = inputs
        return ps_roi_align(features, ops.stop_gradient(boxes), self.output_size[0],
                            self.sampling_ratio)

    def compute_output_shape(self, shapes):
        (b, _, _, c), (_, r, _) = shapes
        k = self.output_size[0]
        return (b, r, k, k, c // (k * k))

