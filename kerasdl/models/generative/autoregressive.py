"""Autoregressive image models: PixelCNN and MADE, with exact log-likelihoods and ancestral sampling.

Both factorise ``p(x) = prod_d p(x_d | x_<d)`` over the D pixels of a binary image in a fixed
order — a fully connected Bayesian network over the pixels (the curriculum's "autoregressive
methods ... Bayesian networks"), whose conditionals share one neural network — and output, for
every pixel at once, the Bernoulli LOGIT of ``p(x_d = 1 | x_<d)``, shaped like the input image.
Training is plain maximum likelihood: ``BinaryCrossentropy(from_logits=True)`` on ``(x, x)``
pairs is the mean NLL per pixel in nats, and ``loss / ln 2`` is bits/dim. Task "reconstruction"
in the model contract. Inputs are centred to {-1, 1} inside the model.

- ``pixelcnn`` (van den Oord et al. 2016): a 7x7 type-"A" masked convolution, ``num_blocks``
  residual blocks (ReLU, 1x1 to filters/2, ReLU, 3x3 type-"B" masked, ReLU, 1x1 back to
  ``filters``), a 1x1 ReLU head, raster order. Plain masked stacks have a blind spot (pixels
  above-right of the receptive field are never seen); the Gated PixelCNN's two stacks remove it.
- ``made`` (Germain et al. 2015): an MLP of :class:`~kerasdl.layers.masked.MaskedDense` layers
  on the flattened image. Inputs get degrees 1..D from the ordering ("natural" raster order or a
  "random" permutation drawn with ``seed``), hidden units degrees spread evenly over [1, D-1],
  the output layer the inputs' degrees with the strict rule, so output d sees only pixels that
  come before it in the ordering.

Binarisation (:func:`binarize`, :func:`binarized_dataset`): training images are binarised
stochastically, ``x_b ~ Bernoulli(grey level)``, afresh every epoch; test images once with a
fixed seed — the convention of binarised MNIST (Salakhutdinov & Murray 2008). A fixed 0.5
threshold is available (``seed=None``) but gives an easier, non-standard data set.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from kerasdl.layers.masked import MaskedConv2D, MaskedDense
from kerasdl.models.base import FunctionalModel, register_model

_TAGS = ("generative", "autoregressive", "image")
# The contract trains on uniform-noise images, where p(x_d | x_<d) = p(x_d): an autoregressive
# model can lower that loss only by memorising the batch, so the small builds are wide.


def _check_image_shape(image_shape) -> tuple:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or shape[-1] != 1 or min(shape) < 1 or shape[0] * shape[1] < 2:
        raise ValueError(f"image_shape must be (H, W, 1) with H*W >= 2, got {image_shape}")
    return shape


# ------------------------------------------------------------------------------------- models
@register_model("pixelcnn", tags=_TAGS, task="reconstruction", deployable=True,
                small={"image_shape": (8, 8, 1), "filters": 128, "num_blocks": 2})
class PixelCNN(FunctionalModel):
    """PixelCNN over binary 1-channel images: image in [0, 1] -> per-pixel Bernoulli logits."""

    @staticmethod
    def build_graph(image_shape=(28, 28, 1), filters=64, num_blocks=4):
        shape = _check_image_shape(image_shape)
        if filters < 2 or num_blocks < 0:
            raise ValueError(f"need filters >= 2 and num_blocks >= 0, got {filters}, {num_blocks}")
        image = keras.Input(shape, name="image")
        x = keras.layers.Rescaling(2.0, offset=-1.0, name="center")(image)  # {0, 1} -> {-1, 1}
        x = MaskedConv2D(filters, 7, "A", name="conv_a")(x)
        for i in range(num_blocks):
            h = keras.layers.ReLU()(x)
            h = keras.layers.Conv2D(filters // 2, 1, name=f"block{i}_reduce")(h)
            h = keras.layers.ReLU()(h)
            h = MaskedConv2D(filters // 2, 3, "B", name=f"block{i}_conv_b")(h)
            h = keras.layers.ReLU()(h)
            h = keras.layers.Conv2D(filters, 1, name=f"block{i}_expand")(h)
            x = keras.layers.Add(name=f"block{i}_add")([x, h])
        x = keras.layers.ReLU()(x)
        x = keras.layers.Conv2D(filters, 1, activation="relu", name="head")(x)
        logits = keras.layers.Conv2D(1, 1, name="logits", dtype="float32")(x)
        return image, logits

    def generation_order(self) -> np.ndarray:
        """Flat pixel indices in sampling order: raster order."""
        return np.arange(int(np.prod(self.inputs[0].shape[1:])))


def made_ordering(num_pixels: int, ordering: str = "natural", seed: int = 0) -> np.ndarray:
    """Flat pixel indices in MADE's autoregressive order ("natural" or a seeded "random" one)."""
    if ordering == "natural":
        return np.arange(num_pixels)
    if ordering == "random":
        return np.random.default_rng(seed).permutation(num_pixels)
    raise ValueError(f"ordering must be 'natural' or 'random', got {ordering!r}")


def made_degrees(num_pixels: int, hidden_units, ordering="natural", seed=0) -> list:
    """Degrees of the input, each hidden layer, and the output (input degrees = 1 + position)."""
    order = made_ordering(num_pixels, ordering, seed)
    inputs = np.empty(num_pixels, np.int64)
    inputs[order] = np.arange(1, num_pixels + 1)
    degrees = [inputs]
    for units in hidden_units:
        if units < 1:
            raise ValueError(f"hidden_units must be positive, got {hidden_units}")
        degrees.append(1 + np.arange(units) * (num_pixels - 1) // units)  # evenly over [1, D-1]
    return degrees + [inputs]


@register_model("made", tags=_TAGS, task="reconstruction", deployable=True,
                small={"image_shape": (8, 8, 1), "hidden_units": (512,)})
class MADE(FunctionalModel):
    """MADE over binary 1-channel images: image in [0, 1] -> per-pixel Bernoulli logits."""

    @staticmethod
    def build_graph(image_shape=(28, 28, 1), hidden_units=(500,), ordering="natural", seed=0):
        shape = _check_image_shape(image_shape)
        num_pixels = int(np.prod(shape))
        degrees = made_degrees(num_pixels, hidden_units, ordering, seed)
        image = keras.Input(shape, name="image")
        x = keras.layers.Rescaling(2.0, offset=-1.0, name="center")(image)  # {0, 1} -> {-1, 1}
        x = keras.layers.Flatten(name="flatten")(x)
        for i in range(len(hidden_units)):
            x = MaskedDense(degrees[i], degrees[i + 1], activation="relu", name=f"hidden{i}")(x)
        x = MaskedDense(degrees[-2], degrees[-1], strict=True, name="output", dtype="float32")(x)
        logits = keras.layers.Reshape(shape, name="logits", dtype="float32")(x)
        return image, logits

    def generation_order(self) -> np.ndarray:
        """Flat pixel indices in sampling order: the MADE's ordering."""
        config = self.hyperparameters
        return made_ordering(int(np.prod(self.inputs[0].shape[1:])), config["ordering"],
                             config["seed"])


def active_params(model) -> int:
    """Trainable parameters that the masks leave connected (``count_params`` counts masked-out
    kernel entries too)."""
    total = 0
    for layer in model.layers:
        for weight in layer.trainable_weights:
            mask = getattr(layer, "_mask", None)
            if mask is not None and weight is layer.kernel:
                total += int(np.broadcast_to(mask, weight.shape).sum())
            else:
                total += int(np.prod(weight.shape))
    return total


# ------------------------------------------------------------------------------ binarisation
def binarize(images, seed: int | None = 0) -> np.ndarray:
    """Binary float32 images: ``x_b ~ Bernoulli(x)`` drawn with ``seed``, or ``x > 0.5`` if None."""
    images = np.asarray(images, np.float32)
    if seed is None:
        return (images > 0.5).astype(np.float32)
    return (np.random.default_rng(seed).random(images.shape, dtype=np.float32) < images).astype(
        np.float32)


def binarized_dataset(images, batch_size: int, *, training: bool, seed: int = 0) -> tf.data.Dataset:
    """``(x, x)`` batches for likelihood training.

    training: grey images in [0, 1] (float or uint8), shuffled and binarised stochastically with
    fresh noise every epoch (stateless draws keyed by a seeded random stream), remainder dropped.
    eval: ``images`` must already be binary (:func:`binarize`); kept in order, remainder kept.
    """
    images = np.asarray(images)
    if not training:
        ds = tf.data.Dataset.from_tensor_slices(images.astype(np.float32)).batch(batch_size)
        return ds.map(lambda x: (x, x)).prefetch(tf.data.AUTOTUNE)
    scale = 1 / 255 if images.dtype == np.uint8 else 1.0
    ds = tf.data.Dataset.from_tensor_slices(images)
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=True)
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def draw(x, key):
        p = tf.cast(x, tf.float32) * scale
        u = tf.random.stateless_uniform(tf.shape(p), seed=tf.stack([key, tf.constant(seed, tf.int64)]))
        b = tf.cast(u < p, tf.float32)
        return b, b

    return tf.data.Dataset.zip(ds, keys).map(draw, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------- likelihoods
def bernoulli_log_likelihood(logits, images) -> np.ndarray:
    """Per-image ``sum_d log p(x_d | x_<d)`` in nats, from logits and binary images ``[N, ...]``."""
    logits = np.asarray(logits, np.float64).reshape(len(images), -1)
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    # log sigmoid(l) = -log(1 + e^-l), log(1 - sigmoid(l)) = -log(1 + e^l)
    return -(x * np.logaddexp(0.0, -logits) + (1 - x) * np.logaddexp(0.0, logits)).sum(axis=1)


def log_likelihood_bits_per_dim(model, images, batch_size: int = 256) -> float:
    """Mean test NLL of binary ``images`` under ``model`` in bits/dim: ``-sum log p / (D ln 2)``.

    Lower is better; the models' likelihoods are exact, so this is the number papers report.
    """
    images = np.asarray(images, np.float32)
    if not np.isin(images, (0.0, 1.0)).all():
        raise ValueError("log-likelihoods here are for binary images: binarize() them first")
    logits = model.predict(images, batch_size=batch_size, verbose=0)
    num_dims = int(np.prod(images.shape[1:]))
    return float(-bernoulli_log_likelihood(logits, images).mean() / (num_dims * math.log(2)))


# ------------------------------------------------------------------------------- sampling
def sample(model, num: int, seed: int = 0) -> np.ndarray:
    """Ancestral sampling: ``num`` binary images, one pixel at a time in the model's order.

    A compiled ``tf.function`` loop of D steps; step t runs the model on the partial images and
    draws pixel ``order[t]`` from its Bernoulli (stateless, keyed by ``(seed, t)``).
    """
    shape = tuple(model.inputs[0].shape[1:])
    num_dims = int(np.prod(shape))
    order = np.arange(num_dims) if not hasattr(model, "generation_order") else \
        np.asarray(model.generation_order())
    order = tf.constant(order, tf.int32)

    @tf.function(autograph=False)  # an explicit tf.while_loop: nothing to convert
    def run(seed):
        def step(t, x):
            logits = tf.reshape(model(tf.reshape(x, (num, *shape)), training=False), (num, num_dims))
            position = order[t]
            logit = tf.gather(logits, position, axis=1)
            u = tf.random.stateless_uniform((num,), seed=tf.stack([seed, t]))
            bit = tf.cast(u < tf.sigmoid(tf.cast(logit, tf.float32)), tf.float32)
            return t + 1, x + tf.one_hot(position, num_dims)[tf.newaxis] * bit[:, tf.newaxis]

        _, x = tf.while_loop(lambda t, x: t < num_dims, step,
                             (tf.constant(0), tf.zeros((num, num_dims))))
        return tf.reshape(x, (num, *shape))

    return run(tf.constant(seed, tf.int32)).numpy()


def independent_bernoulli_bits_per_dim(train_images, test_images) -> float:
    """Baseline: each pixel an independent Bernoulli whose p is the train mean grey level
    (the expected rate under stochastic binarisation), Laplace-smoothed; test bits/dim."""
    train = np.asarray(train_images, np.float64).reshape(len(train_images), -1)
    p = (train.sum(axis=0) + 1.0) / (len(train) + 2.0)
    logits = np.broadcast_to(np.log(p) - np.log1p(-p), (len(test_images), p.size))
    num_dims = p.size
    return float(-bernoulli_log_likelihood(logits, test_images).mean() / (num_dims * math.log(2)))
