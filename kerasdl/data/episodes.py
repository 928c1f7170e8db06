"""N-way K-shot episodes from a labelled image set, as a seeded, stateless ``tf.data`` stream.

Episode ``i`` depends only on ``(seed, i)``: N classes drawn without replacement from ``classes``,
then K support and Q query examples drawn without replacement from each, labelled 0..N−1 in the
order the classes were drawn (so labels carry no class identity across episodes). Sampling runs in
the graph: the examples, grouped by class, are one constant tensor; a class's draw is the top
K + Q of uniform noise over its slots.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def few_shot_episodes(x, y, *, ways, shots, queries, classes=None, seed=0,
                      num_episodes=None) -> tf.data.Dataset:
    """Episodes ``((support_x [N·K, ...], query_x [N·Q, ...]), (support_y [N·K], query_y [N·Q]))``,
    support and query grouped by class; endless unless ``num_episodes`` is given.

    ``x``: images ``[M, ...]`` (uint8 are scaled by 1/255, floats kept); ``y``: int labels ``[M]``;
    ``classes``: the labels episodes draw from (default: all in ``y``). Each needs ≥ K + Q examples.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need images [M, ...] and labels [M] with M > 0, got shapes {x.shape} "
                         f"and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    classes = np.unique(y) if classes is None else np.asarray(classes)
    missing = sorted(set(classes.tolist()) - set(np.unique(y).tolist()))
    if missing:
        raise ValueError(f"classes {missing} have no examples in y")
    if len(np.unique(classes)) != len(classes):
        raise ValueError(f"classes repeat: {classes.tolist()}")
    for name, value in (("ways", ways), ("shots", shots), ("queries", queries)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if ways > len(classes):
        raise ValueError(f"{ways}-way episodes need {ways} classes, only {len(classes)} given")
    if num_episodes is not None and int(num_episodes) < 1:
        raise ValueError(f"num_episodes must be >= 1 or None (endless), got {num_episodes}")
    groups = [np.flatnonzero(y == c) for c in classes]
    counts = np.array([len(g) for g in groups])
    if counts.min() < shots + queries:
        small = [int(c) for c, n in zip(classes, counts) if n < shots + queries]
        raise ValueError(f"classes {small} have fewer than shots + queries = {shots + queries} "
                         "examples")
    images = tf.constant(x[np.concatenate(groups)])
    offsets = tf.constant(np.concatenate([[0], np.cumsum(counts)[:-1]]), tf.int64)
    counts_t, slots = tf.constant(counts, tf.int64), int(counts.max())
    scale = x.dtype == np.uint8
    per_class, image_shape = shots + queries, x.shape[1:]

    def episode(index):
        key = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
        class_key, example_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
        chosen = tf.argsort(tf.random.stateless_uniform([len(classes)], class_key))[:ways]
        noise = tf.random.stateless_uniform([ways, slots], example_key)
        valid = tf.range(slots, dtype=tf.int64)[tf.newaxis, :] < tf.gather(counts_t, chosen)[:, tf.newaxis]
        picks = tf.math.top_k(tf.where(valid, noise, -1.0), per_class).indices  # [N, K + Q]
        index_in_set = tf.gather(offsets, chosen)[:, tf.newaxis] + tf.cast(picks, tf.int64)
        batch = tf.gather(images, index_in_set)  # [N, K + Q, ...]
        batch = tf.cast(batch, tf.float32) / 255.0 if scale else tf.cast(batch, tf.float32)
        labels = tf.repeat(tf.range(ways, dtype=tf.int32)[:, tf.newaxis], per_class, 1)
        return ((tf.reshape(batch[:, :shots], [ways * shots, *image_shape]),
                 tf.reshape(batch[:, shots:], [ways * queries, *image_shape])),
                (tf.reshape(labels[:, :shots], [-1]), tf.reshape(labels[:, shots:], [-1])))

    indices = tf.data.Dataset.counter() if num_episodes is None else \
        tf.data.Dataset.range(int(num_episodes))
    return indices.map(episode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True) \
        .prefetch(tf.data.AUTOTUNE)

