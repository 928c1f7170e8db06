"""StarDist's annotated nuclei (Schmidt et al. 2018): one real 512x512 fluorescence image with
125 hand-labelled nucleus instances, plus a small 3-D volume, from PyPI ``stardist==0.9.2`` (see
:mod:`kerasdl.data.sources`; read with tifffile). For semantic segmentation (foreground masks),
instance segmentation (instance labels) and detection (regionprops-style boxes).

Split protocol (one image, so the split is spatial): columns ``x < 384`` (the left 3/4) are the
training region, columns ``x >= 384`` (the right 1/4) the test region; no pixel is in both. A
nucleus cut by the border counts in each region as the part that lies there (its box is that
part's box). Test tiles are the disjoint 128x128 grid of the test region (4 tiles); training
draws random 128x128 crops of the training region (overlap among *training* crops is fine) with
random horizontal/vertical flips applied to image and mask as one stacked tensor (stateless
``tf.image`` crops and flips; see :func:`joint_crops`). Intensities are scaled by the
training region's 1st/99.8th percentiles (StarDist's ``normalize(img, 1, 99.8)``), so no test
statistics leak in.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kerasdl.data import sources
from kerasdl.registry import DATASETS

SPLITS = ("train", "test")
TRAIN_COLUMNS = 384  # columns [0, 384) train, [384, 512) test
TILE = 128
PERCENTILES = (1.0, 99.8)


@dataclass(frozen=True)
class NucleiRegion:
    """One region of the image: ``image`` float32 [H, W], ``labels`` int32 [H, W] (0 = background,
    k > 0 = nucleus k, ids as in the full image)."""

    image: np.ndarray
    labels: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """Semantic mask: int32 [H, W], 1 on nuclei, 0 on background."""
        return foreground_mask(self.labels)

    def boxes(self):
        """``(ids, boxes)`` of the instances present here; see :func:`instance_boxes`."""
        return instance_boxes(self.labels)

    def tiles(self, tile: int = TILE):
        """Disjoint ``tile`` x ``tile`` tiles: ``(images [N, t, t, 1], labels [N, t, t])``."""
        return disjoint_tiles(self.image, tile)[..., None], disjoint_tiles(self.labels, tile)


def _tiff(path):
    import tifffile

    return tifffile.imread(path)


@functools.lru_cache(maxsize=1)
def _raw_2d():
    paths = sources.require("nuclei")
    image, labels = _tiff(paths["img2d.tif"]), _tiff(paths["mask2d.tif"])
    image.flags.writeable = labels.flags.writeable = False
    return image, labels


def load_volume():
    """The 3-D example: ``(volume float32 [Z, Y, X] raw intensities, labels int32 [Z, Y, X])``."""
    paths = sources.require("nuclei")
    return _tiff(paths["img3d.tif"]).astype(np.float32), _tiff(paths["mask3d.tif"]).astype(np.int32)


def foreground_mask(labels) -> np.ndarray:
    """Instance labels -> semantic foreground mask (int32, 1 where ``labels > 0``)."""
    return (np.asarray(labels) > 0).astype(np.int32)


def instance_boxes(labels):
    """Instance labels [H, W] -> ``(ids int32 [N], boxes float32 [N, 4])``, one row per id present.

    Boxes are skimage ``regionprops(...).bbox``: ``(y_min, x_min, y_max, x_max)`` in pixels with
    exclusive maxima, found with ``scipy.ndimage.find_objects``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 2-D integer array, got shape {labels.shape} dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ValueError("labels must be >= 0 (0 = background)")
    found = ndimage.find_objects(labels)
    ids = np.array([i + 1 for i, s in enumerate(found) if s is not None], np.int32)
    boxes = np.array([[found[i - 1][0].start, found[i - 1][1].start,
                       found[i - 1][0].stop, found[i - 1][1].stop] for i in ids], np.float32)
    return ids, boxes.reshape(-1, 4)


def disjoint_tiles(array, tile: int) -> np.ndarray:
    """Non-overlapping ``tile`` x ``tile`` tiles of a [H, W, ...] array in row-major order; a
    remainder narrower than ``tile`` is dropped."""
    array = np.asarray(array)
    rows, cols = array.shape[0] // tile, array.shape[1] // tile
    if tile <= 0 or rows == 0 or cols == 0:
        raise ValueError(f"tile {tile} does not fit in an array of shape {array.shape}")
    cut = array[:rows * tile, :cols * tile]
    tiles = cut.reshape(rows, tile, cols, tile, *array.shape[2:]).swapaxes(1, 2)
    return tiles.reshape(rows * cols, tile, tile, *array.shape[2:])


@functools.lru_cache(maxsize=2)
def _regions():
    raw, labels = _raw_2d()
    train = raw[:, :TRAIN_COLUMNS].astype(np.float32)
    low, high = np.percentile(train, PERCENTILES)
    image = (raw.astype(np.float32) - low) / (high - low)
    labels = labels.astype(np.int32)
    return {"train": NucleiRegion(image[:, :TRAIN_COLUMNS], labels[:, :TRAIN_COLUMNS]),
            "test": NucleiRegion(image[:, TRAIN_COLUMNS:], labels[:, TRAIN_COLUMNS:])}


@DATASETS.register(
    "nuclei", tags=("vision", "segmentation", "detection"),
    num_classes=2, image_shape=(512, 512, 1), class_names=["background", "nucleus"],
    num_examples={"train": "region 512x384", "test": "region 512x128 (4 tiles of 128)"},
    source="StarDist example nuclei (img2d.tif, mask2d.tif: 125 instances) from PyPI "
           "stardist==0.9.2; spatial split: columns < 384 train, >= 384 test",
    license="BSD-3-Clause (stardist)",
)
def nuclei(split: str = "train") -> NucleiRegion:
    """The training (left 3/4) or test (right 1/4) region of StarDist's 2-D nuclei image."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; valid splits: {', '.join(SPLITS)}.")
    return _regions()[split]


def held_out_tiles(tile: int = TILE):
    """The held-out tiles: ``(images float32 [N, t, t, 1], masks int32 [N, t, t])``."""
    images, labels = nuclei("test").tiles(tile)
    return images, foreground_mask(labels)


def joint_crops(image, mask, batch_size: int, crop: int, *, seed: int = 0):
    """An endless ``tf.data.Dataset`` of ``(images [B, c, c, C] float32, masks [B, c, c] int32)``:
    random ``crop`` x ``crop`` windows of ``image`` [H, W(, C)] and ``mask`` [H, W] (integer
    labels, exact up to 2^24), randomly flipped. Image and mask are stacked on the channel axis
    and cropped/flipped as one tensor by ``tf.image.stateless_random_*`` ops, so they stay aligned.

    (Keras' ``RandomCrop``/``RandomFlip`` also take ``segmentation_masks``, but their seed state is
    a variable, which makes the iterator impossible to checkpoint, as the Trainer does; the
    seeds here come from ``tf.data.Dataset.random``, which checkpoints.)
    """
    import tensorflow as tf

    image, mask = np.asarray(image, np.float32), np.asarray(mask)
    image = image[..., None] if image.ndim == 2 else image
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape[:2]}")
    if not 0 < crop <= min(mask.shape):
        raise ValueError(f"crop must be in (0, {min(mask.shape)}], got {crop}")
    stacked = tf.constant(np.concatenate([image, mask[..., None].astype(np.float32)], -1))
    channels = stacked.shape[-1]

    def augment(seeds):
        seeds = tf.reshape(seeds, (3, 2))
        x = tf.image.stateless_random_crop(stacked, (crop, crop, channels), seeds[0])
        x = tf.image.stateless_random_flip_left_right(x, seeds[1])
        x = tf.image.stateless_random_flip_up_down(x, seeds[2])
        return x[..., :-1], tf.cast(tf.round(x[..., -1]), tf.int32)

    ds = tf.data.Dataset.random(seed=seed).batch(6)
    return ds.map(augment, num_parallel_calls=1, deterministic=True).batch(batch_size).prefetch(2)


def training_crops(batch_size: int = 8, crop: int = TILE, *, seed: int = 0, instances: bool = False):
    """:func:`joint_crops` of the training region: ``(images [B, c, c, 1], masks [B, c, c])``;
    ``instances=True`` yields the instance labels instead of the semantic mask."""
    region = nuclei("train")
    return joint_crops(region.image, region.labels if instances else region.mask, batch_size, crop,
                       seed=seed)
