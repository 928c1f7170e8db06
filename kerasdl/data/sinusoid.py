"""The sinusoid regression tasks of MAML (Finn et al., 2017, §5.1), as a seeded, stateless
``tf.data`` task generator. Synthetic by definition: the benchmark is a family of functions.

A task is y = A sin(x − φ) with amplitude A ~ U[0.1, 5.0] and phase φ ~ U[0, π]; its points have
x ~ U[−5, 5]. Meta-batch ``i`` of a stream depends only on ``(seed, i)``
(``tf.random.stateless_*``), so a stream is reproducible, resumable and independent of any
other seed's stream (train and test tasks come from different seeds).
"""
from __future__ import annotations

import math

import tensorflow as tf

AMPLITUDE_RANGE = (0.1, 5.0)
PHASE_RANGE = (0.0, math.pi)
INPUT_RANGE = (-5.0, 5.0)


def sinusoid_batch(seed, index, tasks, support_shots, query_shots):
    """Meta-batch ``index`` of stream ``seed``: a dict with ``amplitude``, ``phase`` ``[tasks]``
    and ``support_x``, ``support_y`` ``[tasks, support_shots, 1]``, ``query_x``, ``query_y``
    ``[tasks, query_shots, 1]`` (float32)."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
    amplitude_key, phase_key, x_key = tf.unstack(tf.random.experimental.stateless_split(key, 3))
    amplitude = tf.random.stateless_uniform([tasks], amplitude_key, *AMPLITUDE_RANGE)
    phase = tf.random.stateless_uniform([tasks], phase_key, *PHASE_RANGE)
    x = tf.random.stateless_uniform([tasks, support_shots + query_shots, 1], x_key, *INPUT_RANGE)
    y = sinusoid(x, amplitude, phase)
    return {"amplitude": amplitude, "phase": phase,
            "support_x": x[:, :support_shots], "support_y": y[:, :support_shots],
            "query_x": x[:, support_shots:], "query_y": y[:, support_shots:]}


def sinusoid(x, amplitude, phase):
    """A sin(x − φ) for ``x`` ``[tasks, points, 1]`` and per-task ``amplitude``, ``phase`` ``[tasks]``."""
    return amplitude[:, None, None] * tf.sin(x - phase[:, None, None])


def sinusoid_tasks(tasks_per_batch=25, support_shots=10, query_shots=10, *, seed=0,
                   num_batches=None) -> tf.data.Dataset:
    """Meta-batches ``((support_x, query_x), (support_y, query_y))`` (the episode layout of
    :class:`kerasdl.meta.MAMLTrainer`), endless unless ``num_batches`` is given.

    The paper meta-trains on 25 tasks per batch with K support and K query points per task.
    """
    for name, value in (("tasks_per_batch", tasks_per_batch), ("support_shots", support_shots),
                        ("query_shots", query_shots)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if num_batches is not None and int(num_batches) < 1:
        raise ValueError(f"num_batches must be >= 1 or None (endless), got {num_batches}")
    indices = tf.data.Dataset.counter() if num_batches is None else \
        tf.data.Dataset.range(int(num_batches))

    def episode(index):
        b = sinusoid_batch(seed, index, int(tasks_per_batch), int(support_shots), int(query_shots))
        return (b["support_x"], b["query_x"]), (b["support_y"], b["query_y"])

    return indices.map(episode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True) \
        .prefetch(tf.data.AUTOTUNE)
