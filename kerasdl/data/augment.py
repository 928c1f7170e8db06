"""Augmentation Keras lacks: Inception-style random resized crop (Szegedy et al. 2015; the
torchvision ``RandomResizedCrop`` recipe), plus the flip / crop / colour-jitter pipeline that the
curriculum's data-augmentation notes show, built from Keras preprocessing layers.

Keras 3.15 has ``RandomFlip``, ``RandomCrop`` (fixed size, no rescale), ``RandomZoom`` and
``RandomColorJitter`` but no crop that samples an *area fraction* and an *aspect ratio* and
resizes back — so that one layer is written here, on ``tf.image.crop_and_resize``.
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kerasdl")
class RandomResizedCrop(keras.layers.Layer):
    """Crop a random box covering ``scale`` (fraction of the image area) with aspect ratio
    (width / height, sampled log-uniformly) in ``ratio``, resized to ``(height, width)``.

    Like torchvision it draws ``attempts`` candidate boxes per image and keeps the first that fits
    inside the image; if none fits it takes the whole image. Inactive at inference (resizes only).
    """

    def __init__(self, height: int, width: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                 attempts: int = 10, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < low <= high, got {ratio}")
        self.height, self.width = int(height), int(width)
        self.scale, self.ratio = tuple(map(float, scale)), tuple(map(float, ratio))
        self.attempts, self.seed = int(attempts), seed
        self.generator = keras.random.SeedGenerator(seed)

    def sample_boxes(self, batch, image_height, image_width):
        """``[batch, 4]`` normalised ``(y1, x1, y2, x2)`` boxes as described above."""
        shape = (batch, self.attempts)
        area = keras.random.uniform(shape, *self.scale, seed=self.generator)
        log_ratio = keras.random.uniform(shape, math.log(self.ratio[0]), math.log(self.ratio[1]),
                                         seed=self.generator)
        aspect = tf.exp(log_ratio)
        aspect_hw = tf.cast(image_width, tf.float32) / tf.cast(image_height, tf.float32)
        # fractions of the side lengths: (w/W) * (h/H) = area, (w/h) = aspect
        frac_w = tf.sqrt(area * aspect / aspect_hw)
        frac_h = tf.sqrt(area * aspect_hw / aspect)
        fits = (frac_w <= 1.0) & (frac_h <= 1.0)
        first = tf.argmax(tf.cast(fits, tf.int32), axis=1)
        any_fit = tf.reduce_any(fits, axis=1)
        frac_w = tf.where(any_fit, tf.gather(frac_w, first, batch_dims=1), 1.0)
        frac_h = tf.where(any_fit, tf.gather(frac_h, first, batch_dims=1), 1.0)
        y1 = keras.random.uniform((batch,), seed=self.generator) * (1.0 - frac_h)
        x1 = keras.random.uniform((batch,), seed=self.generator) * (1.0 - frac_w)
        return tf.stack([y1, x1, y1 + frac_h, x1 + frac_w], axis=1)

    def call(self, images, training=True):
        images = tf.convert_to_tensor(images)
        unbatched = images.shape.rank == 3
        if unbatched:
            images = images[None]
        shape = tf.shape(images)
        if training:
            boxes = self.sample_boxes(shape[0], shape[1], shape[2])
        else:
            boxes = tf.tile(tf.constant([[0.0, 0.0, 1.0, 1.0]]), [shape[0], 1])
        out = tf.image.crop_and_resize(tf.cast(images, tf.float32), boxes,
                                       tf.range(shape[0]), (self.height, self.width))
        out = tf.cast(out, self.compute_dtype)
        return out[0] if unbatched else out

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-3], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "scale": self.scale, "ratio": self.ratio, "attempts": self.attempts,
                "seed": self.seed}


def standard_augmentations(size: int, *, seed: int = 0) -> dict[str, keras.layers.Layer]:
    """The gallery's transforms, each a layer on float images in [0, 1]: horizontal flip,
    random resized crop (scale [8%, 100%], aspect [3/4, 4/3]) and colour jitter (brightness,
    contrast, saturation 0.4, hue 0.1 — torchvision's ImageNet recipe values)."""
    return {
        "flip": keras.layers.RandomFlip("horizontal", seed=seed),
        "resized crop": RandomResizedCrop(size, size, seed=seed),
        "colour jitter": keras.layers.RandomColorJitter(
            value_range=(0, 1), brightness_factor=0.4, contrast_factor=0.4,
            saturation_factor=(0.1, 0.9), hue_factor=0.1, seed=seed),
    }
