"""Keypoint data: synthetic articulated stick figures with known joints, and the training targets
of heatmap (Newell et al. 2016) and part-affinity-field (Cao et al. 2017) pose networks.

No labelled human-pose data set exists on this machine (no COCO / MPII / LSP), so figures are
*synthetic*: a 13-joint kinematic tree with random pose angles, limb lengths, position and scale,
drawn as thick segments on a cluttered background. Left limbs are drawn reddish and right limbs
bluish, so that left/right is decidable from the image (as clothing and the face make it for
people). The quokka image (``kerasdl.data.sources``, imgaug 0.4.0) has 7 real annotated keypoints
for a visual check of the encode/decode path.
"""
from __future__ import annotations

import json

import numpy as np

JOINTS = ("head", "neck", "pelvis", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
          "r_wrist", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle")
# limbs as (parent, child) joint indices, in tree order from the neck
LIMBS = ((1, 0), (1, 2), (1, 3), (3, 4), (4, 5), (1, 6), (6, 7), (7, 8), (2, 9), (9, 10),
         (10, 11), (2, 12), (12, 13), (13, 14))
LEFT = {"l_shoulder", "l_elbow", "l_wrist", "l_hip", "l_knee", "l_ankle"}
TORSO = (3, 12)  # LSP's torso diameter: left shoulder to right hip (the PCK reference length)


def _pose(rng, size: int) -> np.ndarray:
    """One figure's joints ``[15, 2]`` (x, y pixels) from random angles (radians, y down)."""
    scale = rng.uniform(0.22, 0.34) * size  # torso length
    neck = rng.uniform([0.35 * size, 0.25 * size], [0.65 * size, 0.45 * size])
    lean = rng.normal(0, 0.25)
    down = np.array([np.sin(lean), np.cos(lean)])
    side = np.array([down[1], -down[0]])  # the figure's left (image right when facing us)

    def step(start, angle, length):
        return start + length * np.array([np.sin(angle), np.cos(angle)])

    j = np.zeros((len(JOINTS), 2))
    j[1] = neck
    j[2] = neck + scale * down
    j[0] = neck - 0.35 * scale * down + rng.normal(0, 0.03 * scale, 2)
    for s, sign in ((3, 1.0), (6, -1.0)):  # shoulders, then elbows and wrists
        j[s] = neck + sign * 0.35 * scale * side + 0.08 * scale * down
        upper = lean + sign * rng.uniform(0.2, 2.6)
        j[s + 1] = step(j[s], upper, 0.45 * scale * rng.uniform(0.85, 1.15))
        j[s + 2] = step(j[s + 1], upper + sign * rng.uniform(-0.3, 1.8),
                        0.4 * scale * rng.uniform(0.85, 1.15))
    for h, sign in ((9, 1.0), (12, -1.0)):  # hips, knees, ankles
        j[h] = j[2] + sign * 0.2 * scale * side
        thigh = lean + sign * rng.uniform(-0.15, 0.8)
        j[h + 1] = step(j[h], thigh, 0.5 * scale * rng.uniform(0.85, 1.15))
        j[h + 2] = step(j[h + 1], thigh - sign * rng.uniform(0.0, 1.2),
                        0.48 * scale * rng.uniform(0.85, 1.15))
    return j


def _draw_segment(image, a, b, colour, width):
    """Paint pixels within ``width`` of segment ab (in place; only its bounding box is visited)."""
    h, w = image.shape[:2]
    top, left = (max(int(np.floor(min(a[i], b[i]) - width - 1)), 0) for i in (1, 0))
    bottom = min(int(np.ceil(max(a[1], b[1]) + width + 1)), h)
    right = min(int(np.ceil(max(a[0], b[0]) + width + 1)), w)
    if top >= bottom or left >= right:
        return
    yy, xx = np.mgrid[top:bottom, left:right] + 0.5
    ab = b - a
    t = np.clip(((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1]) / max(ab @ ab, 1e-9), 0, 1)
    dist = np.hypot(xx - (a[0] + t * ab[0]), yy - (a[1] + t * ab[1]))
    image[top:bottom, left:right][dist <= width] = colour


def stick_figures(count: int, size: int = 64, *, people: int = 1, seed: int = 0):
    """``count`` images ``[N, size, size, 3]`` float32 in [0, 1] with ``people`` figures each;
    keypoints ``[N, people, 15, 2]`` (x, y in pixels, pixel centres at +0.5) and visibility
    ``[N, people, 15]`` (1 inside the image)."""
    if count < 1 or size < 16 or people < 1:
        raise ValueError(f"need count >= 1, size >= 16, people >= 1; got {count}, {size}, {people}")
    rng = np.random.default_rng(seed)
    images = np.empty((count, size, size, 3), np.float32)
    keypoints = np.empty((count, people, len(JOINTS), 2), np.float32)
    for n in range(count):
        image = np.ones((size, size, 3)) * (rng.uniform(0.35, 0.75) + rng.uniform(-0.08, 0.08, 3))
        image += rng.normal(0, 0.05, image.shape)
        for _ in range(rng.integers(1, 4)):  # clutter: random grey-ish bars
            a, b = rng.uniform(0, size, (2, 2))
            _draw_segment(image, a, b, rng.uniform(0.3, 0.7) * np.ones(3), rng.uniform(0.5, 1.5))
        for p in range(people):
            joints = _pose(rng, size)
            if people > 1:  # side by side, non-overlapping centres
                joints[:, 0] += (p - (people - 1) / 2) * size / people * 0.9 - \
                    (joints[1, 0] - size / 2)
            width = rng.uniform(0.9, 1.6) * size / 64
            body = rng.uniform(0.1, 0.3, 3)
            for parent, child in LIMBS:
                colour = body.copy()
                if JOINTS[child] in LEFT:
                    colour[0] += 0.6
                elif JOINTS[child].startswith("r_"):
                    colour[2] += 0.6
                _draw_segment(image, joints[parent], joints[child], colour, width)
            _draw_segment(image, joints[0], joints[0], body + 0.3, 2.5 * width)  # the head
            keypoints[n, p] = joints
        images[n] = np.clip(image, 0, 1)
    visible = ((keypoints >= 0) & (keypoints < size)).all(-1).astype(np.float32)
    return images, keypoints, visible


def keypoint_heatmaps(keypoints, visible, heatmap_size: int, stride: float, sigma: float = 1.0,
                      *, max_over_people: bool = False):
    """Gaussian targets ``[..., heatmap_size, heatmap_size, K]`` from keypoints ``[..., K, 2]``
    (pixels): at each visible keypoint ``exp(-d^2 / 2 sigma^2)`` (d in heatmap cells; cell
    centres at +0.5), zeros for invisible ones. ``max_over_people``: keypoints are
    ``[N, P, K, 2]`` and the P people's maps are merged by their maximum."""
    keypoints, visible = np.asarray(keypoints, np.float32), np.asarray(visible, np.float32)
    if keypoints.shape[-1:] != (2,) or keypoints.shape[:-1] != visible.shape:
        raise ValueError(f"keypoints [..., K, 2] and visible [..., K] disagree: "
                         f"{keypoints.shape} vs {visible.shape}")
    if max_over_people and keypoints.ndim != 4:
        raise ValueError(f"max_over_people needs keypoints [N, P, K, 2], got {keypoints.shape}")
    centre = np.arange(heatmap_size, dtype=np.float32) + 0.5
    cells = keypoints / stride  # [..., K, 2]
    gx = np.exp(-(centre - cells[..., 0, None]) ** 2 / (2 * sigma ** 2))  # [..., K, W]
    gy = np.exp(-(centre - cells[..., 1, None]) ** 2 / (2 * sigma ** 2))  # [..., K, H]
    maps = gy[..., :, None] * gx[..., None, :] * visible[..., None, None]  # [..., K, H, W]
    maps = np.moveaxis(maps, -3, -1).astype(np.float32)
    return maps.max(1) if max_over_people else maps


def part_affinity_fields(keypoints, visible, limbs, heatmap_size: int, stride: float,
                         width: float = 1.0):
    """Cao et al. (2017) Eq. 8-9 targets ``[N, H, W, 2 * len(limbs)]``: on the cells within
    ``width`` (cells) of limb (a, b) of a person — 0 <= projection onto ab <= |ab| — the unit
    vector (b - a)/|ab| as (x, y) channels; averaged where people's limbs overlap.

    ``keypoints [N, P, K, 2]`` pixels, ``visible [N, P, K]``."""
    keypoints, visible = np.asarray(keypoints, np.float32), np.asarray(visible, np.float32)
    if keypoints.ndim != 4:
        raise ValueError(f"keypoints must be [N, people, K, 2], got {keypoints.shape}")
    n, people = keypoints.shape[:2]
    yy, xx = np.mgrid[0:heatmap_size, 0:heatmap_size].astype(np.float32) + 0.5
    fields = np.zeros((n, heatmap_size, heatmap_size, 2 * len(limbs)), np.float32)
    for i in range(n):
        for l, (a, b) in enumerate(limbs):
            total = np.zeros((heatmap_size, heatmap_size, 2), np.float32)
            hits = np.zeros((heatmap_size, heatmap_size), np.float32)
            for p in range(people):
                if not (visible[i, p, a] and visible[i, p, b]):
                    continue
                pa, pb = keypoints[i, p, a] / stride, keypoints[i, p, b] / stride
                length = float(np.linalg.norm(pb - pa))
                if length < 1e-6:
                    continue
                v = (pb - pa) / length
                along = (xx - pa[0]) * v[0] + (yy - pa[1]) * v[1]
                across = np.abs((xx - pa[0]) * v[1] - (yy - pa[1]) * v[0])
                on = (along >= 0) & (along <= length) & (across <= width)
                total[on] += v
                hits += on
            fields[i, ..., 2 * l:2 * l + 2] = total / np.maximum(hits, 1)[..., None]
    return fields


def quokka():
    """The imgaug quokka photo ``[H, W, 3]`` float32 in [0, 1], its 7 keypoints ``[7, 2]``
    (x, y pixels) and their names."""
    from PIL import Image

    from kerasdl.data import sources

    files = sources.require("quokka")
    image = np.asarray(Image.open(files["quokka.jpg"]).convert("RGB"), np.float32) / 255.0
    points = json.loads(files["quokka_annotations.json"].read_text())["keypoints"]
    return image, np.array([[p["x"], p["y"]] for p in points], np.float32), \
        [p["label"] for p in points]
