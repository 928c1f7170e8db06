"""tf.data input pipelines.

- :func:`from_arrays` is the fast path for in-memory arrays: it shuffles and batches *indices*
  and gathers whole batches in one ``tf.gather``, so batches have a static size (XLA-friendly)
  and an iterator checkpoint holds int64 indices (plus a few prefetched batches), never the data.
- :func:`make_pipeline` wraps any element dataset: shard -> cache -> shuffle -> batch -> augment
  -> prefetch.

Both take a ``tf.distribute.InputContext`` (``strategy.distribute_datasets_from_function``):
examples are sharded by ``input_pipeline_id`` and the batch is the per-replica batch size.
Augmentation (a Keras preprocessing layer or a list of them) runs on whole batches, only when
``training``. Its random state lives in the layers' seed variables, which an iterator checkpoint
does not hold: after a restore the same examples come back in the same order, augmented afresh.
Shuffles are seeded by ``seed`` (combined with TF's global seed when one is set).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

__all__ = ["from_arrays", "make_pipeline"]

AUTOTUNE = tf.data.AUTOTUNE


def _layers(augment) -> list:
    if augment is None:
        return []
    layers = list(augment) if isinstance(augment, (list, tuple)) else [augment]
    for layer in layers:
        if not callable(layer):
            raise ValueError(f"augment must be a Keras layer or a list of them, got {layer!r}")
    return layers


def _apply(layers: Sequence, images):
    for layer in layers:
        images = layer(images, training=True)
    return images


def _allow_layer_state(ds: tf.data.Dataset) -> tf.data.Dataset:
    """Let iterator checkpoints skip the augmentation layers' RNG variables (else saving fails)."""
    options = tf.data.Options()
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    return ds.with_options(options)


def _batch_size(batch_size, input_context) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return input_context.get_per_replica_batch_size(int(batch_size)) if input_context else int(batch_size)


def from_arrays(x, y, batch_size: int, *, training: bool, seed: int = 0, augment=None,
                input_context: tf.distribute.InputContext | None = None,
                repeat: bool | int | None = None) -> tf.data.Dataset:
    """Batches ``(images float32, labels)`` from in-memory ``x`` (uint8 -> scaled by 1/255, or float) and ``y``.

    training: shuffle indices each epoch (``seed``), drop the last partial batch, apply ``augment``.
    eval: original order, keep the remainder, no augmentation.
    repeat: None/False = one pass per iteration (Keras re-iterates each epoch), True = forever,
    int = that many passes. Integer labels come out int32, others float32.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"x and y must be arrays with a leading example axis, got shapes {x.shape} and {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"x and y have different lengths: {len(x)} images vs {len(y)} labels")
    if len(x) == 0:
        raise ValueError("x and y are empty: no examples to build a pipeline from")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"x must be numeric (uint8 or float), got dtype {x.dtype}")
    per_replica = _batch_size(batch_size, input_context)
    layers = _layers(augment) if training else []

    n = len(x)
    idx = tf.data.Dataset.range(n)
    if input_context is not None:
        num, pid = input_context.num_input_pipelines, input_context.input_pipeline_id
        idx = idx.shard(num, pid)
        n = len(range(pid, n, num))
    if training:
        if n < per_replica:
            raise ValueError(f"only {n} training examples per input pipeline, fewer than one batch of "
                             f"{per_replica}: with drop_remainder no batch would be produced")
        idx = idx.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if repeat is True:
        idx = idx.repeat()
    elif repeat:
        idx = idx.repeat(int(repeat))
    idx = idx.batch(per_replica, drop_remainder=training)

    images = tf.constant(x)
    labels = tf.constant(y.astype(np.int32 if np.issubdtype(y.dtype, np.integer) else np.float32))
    scaled = x.dtype == np.uint8

    def gather(i):
        xb = tf.cast(tf.gather(images, i), tf.float32)
        if scaled:
            xb = xb / 255.0
        return _apply(layers, xb), tf.gather(labels, i)

    ds = idx.map(gather, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
    return _allow_layer_state(ds) if layers else ds


def make_pipeline(ds: tf.data.Dataset, batch_size: int, *, training: bool, shuffle_buffer: int = 10_000,
                  seed: int = 0, augment=None, cache: bool = True,
                  input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """shard (input_context) -> cache -> shuffle (training) -> batch -> augment (training) -> prefetch.

    ``augment`` transforms the first component of tuple elements (the images), or the whole
    element otherwise. Training batches drop the remainder (static batch size).
    """
    if not isinstance(ds, tf.data.Dataset):
        raise ValueError(f"ds must be a tf.data.Dataset, got {type(ds).__name__}")
    per_replica = _batch_size(batch_size, input_context)
    if training and (not isinstance(shuffle_buffer, (int, np.integer)) or shuffle_buffer <= 0):
        raise ValueError(f"shuffle_buffer must be a positive integer, got {shuffle_buffer!r}")
    layers = _layers(augment) if training else []
    if input_context is not None:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(int(shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(per_replica, drop_remainder=training)
    if layers:
        def aug(*element):
            if len(element) == 1:
                return _apply(layers, element[0])
            return (_apply(layers, element[0]), *element[1:])

        ds = _allow_layer_state(ds.map(aug, num_parallel_calls=AUTOTUNE))
    return ds.prefetch(AUTOTUNE)
