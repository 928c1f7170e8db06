"""Keypoint decoding, the PCK metric, and part-affinity-field grouping.

- ``argmax_keypoints`` / ``soft_argmax_keypoints``: heatmaps ``[B, H, W, K]`` -> coordinates
  ``[B, K, 2]`` (x, y in *pixels* of the input, given the heatmap ``stride``; cell centres at
  +0.5). Soft-argmax (Sun et al. 2018, "integral regression") is the expectation of
  ``softmax(beta * heatmap)`` over cell centres: differentiable and sub-cell.
- ``pck``: Percentage of Correct Keypoints — a visible keypoint is correct when its error is at
  most ``alpha`` times the sample's reference length (LSP: the torso diameter).
- ``limb_score`` / ``group_people``: Cao et al. (2017) Eq. 10's line integral of a PAF along a
  candidate limb, and a greedy, tree-ordered assignment of keypoint candidates into people.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def _check_heatmaps(heatmaps):
    heatmaps = tf.convert_to_tensor(heatmaps, tf.float32)
    if heatmaps.shape.rank != 4:
        raise ValueError(f"heatmaps must be [batch, height, width, keypoints], got shape "
                         f"{heatmaps.shape}")
    return heatmaps


def _cell_centres(n, stride):
    return (tf.range(n, dtype=tf.float32) + 0.5) * stride


def argmax_keypoints(heatmaps, stride: float = 1.0):
    """(coordinates ``[B, K, 2]``, peak values ``[B, K]``) of each heatmap's maximum."""
    heatmaps = _check_heatmaps(heatmaps)
    _, h, w, k = heatmaps.shape
    flat = tf.reshape(tf.transpose(heatmaps, [0, 3, 1, 2]), [-1, k, h * w])
    index = tf.argmax(flat, axis=-1, output_type=tf.int32)
    xy = tf.stack([index % w, index // w], axis=-1)
    return (tf.cast(xy, tf.float32) + 0.5) * stride, tf.reduce_max(flat, axis=-1)


def soft_argmax_keypoints(heatmaps, stride: float = 1.0, beta: float = 1.0):
    """Expected cell centre under ``softmax(beta * heatmap)`` per keypoint: ``[B, K, 2]``."""
    heatmaps = _check_heatmaps(heatmaps)
    _, h, w, k = heatmaps.shape
    flat = tf.reshape(tf.transpose(heatmaps, [0, 3, 1, 2]), [-1, k, h * w])
    p = tf.reshape(tf.nn.softmax(beta * flat, axis=-1), [-1, k, h, w])
    x = tf.reduce_sum(tf.reduce_sum(p, axis=2) * _cell_centres(w, stride), axis=-1)
    y = tf.reduce_sum(tf.reduce_sum(p, axis=3) * _cell_centres(h, stride), axis=-1)
    return tf.stack([x, y], axis=-1)


def pck(predicted, true, visible, reference, alpha: float = 0.2) -> float:
    """Fraction of visible keypoints with ``|predicted - true| <= alpha * reference``.

    ``predicted``, ``true``: ``[N, K, 2]``; ``visible``: ``[N, K]`` (0/1); ``reference``: ``[N]``
    lengths (e.g. torso diameters) in the same units."""
    predicted, true = np.asarray(predicted, np.float64), np.asarray(true, np.float64)
    visible, reference = np.asarray(visible, bool), np.asarray(reference, np.float64)
    if predicted.shape != true.shape or predicted.shape[-1] != 2 or predicted.ndim != 3:
        raise ValueError(f"predicted and true must both be [N, K, 2], got {predicted.shape} "
                         f"and {true.shape}")
    if visible.shape != true.shape[:2] or reference.shape != true.shape[:1]:
        raise ValueError(f"visible must be [N, K] and reference [N]; got {visible.shape}, "
                         f"{reference.shape} for keypoints {true.shape}")
    if not visible.any():
        raise ValueError("no visible keypoints to score")
    error = np.linalg.norm(predicted - true, axis=-1)
    return float((error <= alpha * reference[:, None])[visible].mean())


def heatmap_peaks(heatmap, threshold: float = 0.3, max_peaks: int = 8):
    """Local maxima (3x3) of one ``[H, W]`` map above ``threshold``: ``[(x, y, score)]`` in
    cells (centres at +0.5), strongest first."""
    heatmap = np.asarray(heatmap, np.float32)
    padded = np.pad(heatmap, 1, constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
    peak = (heatmap >= windows.max((-1, -2))) & (heatmap > threshold)
    ys, xs = np.nonzero(peak)
    order = np.argsort(-heatmap[ys, xs])[:max_peaks]
    return [(xs[i] + 0.5, ys[i] + 0.5, float(heatmap[ys[i], xs[i]])) for i in order]


def limb_score(field, a, b, samples: int = 10) -> float:
    """Cao et al. Eq. 10: mean over ``samples`` points on segment ab of field . (b - a)/|b - a|.
    ``field`` is one limb's ``[H, W, 2]`` (x, y) PAF; a, b are (x, y) in cells."""
    a, b = np.asarray(a, np.float64)[:2], np.asarray(b, np.float64)[:2]
    length = np.linalg.norm(b - a)
    if length < 1e-6:
        return 0.0
    h, w = field.shape[:2]
    t = np.linspace(0, 1, samples)
    points = a + t[:, None] * (b - a)
    cols = np.clip(np.floor(points[:, 0]).astype(int), 0, w - 1)
    rows = np.clip(np.floor(points[:, 1]).astype(int), 0, h - 1)
    return float((field[rows, cols] @ ((b - a) / length)).mean())


def group_people(heatmaps, fields, limbs, *, threshold: float = 0.3, root: int = 1):
    """Bottom-up grouping of one image: peaks of each ``[H, W, K]`` heatmap channel are the
    candidates; every ``root`` peak starts a person; then, limb by limb in ``limbs`` order
    (parent before child), parents already in a person are matched greedily to child
    candidates by descending positive ``limb_score``, each child used once. Returns
    ``[P, K, 2]`` keypoints in cells (NaN where a person lacks a joint)."""
    heatmaps, fields = np.asarray(heatmaps), np.asarray(fields)
    k = heatmaps.shape[-1]
    if fields.shape[-1] != 2 * len(limbs):
        raise ValueError(f"{len(limbs)} limbs need {2 * len(limbs)} field channels, got "
                         f"{fields.shape[-1]}")
    candidates = [heatmap_peaks(heatmaps[..., j], threshold) for j in range(k)]
    people = np.full((len(candidates[root]), k, 2), np.nan)
    for p, (x, y, _) in enumerate(candidates[root]):
        people[p, root] = (x, y)
    for l, (parent, child) in enumerate(limbs):
        field = fields[..., 2 * l:2 * l + 2]
        pairs = [(limb_score(field, people[p, parent], c), p, c_i)
                 for p in range(len(people)) if not np.isnan(people[p, parent, 0])
                 for c_i, c in enumerate(candidates[child])]
        used_people, used_children = set(), set()
        for score, p, c_i in sorted(pairs, reverse=True):
            if score <= 0 or p in used_people or c_i in used_children:
                continue
            people[p, child] = candidates[child][c_i][:2]
            used_people.add(p)
            used_children.add(c_i)
    return people
