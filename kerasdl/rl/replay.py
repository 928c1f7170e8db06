"""Experience replay (Lin, 1992; Mnih et al., 2015) as a ring buffer of TF variables.

Transitions (s, a, r, s', terminated) live in ``tf.Variable`` arrays, so the buffer is a trackable
``tf.Module``: the Trainer checkpoints it with the networks (exact resume and rollback), and the
compiled train step gathers its mini-batch from it without leaving the graph. Insertion happens in
blocks from the Python environment loop; the oldest transitions are overwritten once full.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


class ReplayBuffer(tf.Module):
    """A ring buffer of ``capacity`` transitions with observations shaped ``observation_shape``."""

    FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated")

    def __init__(self, capacity: int, observation_shape, name="replay_buffer"):
        super().__init__(name=name)
        if int(capacity) < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.observation_shape = tuple(int(d) for d in observation_shape)

        def store(shape, dtype, field):
            return tf.Variable(tf.zeros((self.capacity, *shape), dtype), trainable=False, name=field)

        self.observations = store(self.observation_shape, tf.float32, "observations")
        self.actions = store((), tf.int32, "actions")
        self.rewards = store((), tf.float32, "rewards")
        self.next_observations = store(self.observation_shape, tf.float32, "next_observations")
        self.terminated = store((), tf.float32, "terminated")  # 1: no bootstrap (not truncation)
        self.added = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="added")

    @property
    def size(self) -> int:
        """Transitions held now (at most ``capacity``)."""
        return int(min(int(self.added.numpy()), self.capacity))

    def add(self, observations, actions, rewards, next_observations, terminated) -> None:
        """Append a block of ``n`` transitions (arrays with a leading dimension ``n``)."""
        values = {"observations": np.asarray(observations, np.float32),
                  "actions": np.asarray(actions, np.int32),
                  "rewards": np.asarray(rewards, np.float32),
                  "next_observations": np.asarray(next_observations, np.float32),
                  "terminated": np.asarray(terminated, np.float32)}
        n = len(values["actions"])
        if n == 0:
            raise ValueError("no transitions to add")
        for field, value in values.items():
            shape = (n, *self.observation_shape) if "observations" in field else (n,)
            if value.shape != shape:
                raise ValueError(f"{field} must have shape {shape}, got {value.shape}")
        keep = slice(max(0, n - self.capacity), n)  # a block larger than the buffer: keep its end
        start = int(self.added.numpy()) + keep.start
        indices = ((start + np.arange(n - keep.start)) % self.capacity)[:, None]
        for field, value in values.items():
            getattr(self, field).scatter_nd_update(indices, value[keep])
        self.added.assign_add(n)

    def sample(self, draws):
        """The transitions that ``draws`` (int64 [B], any values, e.g. uniform over int64) pick,
        uniformly over the stored ones: a tuple in ``FIELDS`` order. Runs inside ``tf.function``."""
        size = tf.maximum(tf.minimum(self.added, self.capacity), 1)
        indices = tf.math.floormod(tf.cast(draws, tf.int64), size)
        return tuple(tf.gather(getattr(self, field), indices) for field in self.FIELDS)


def sampling_draws(batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """An endless dataset of ``(draws, draws)`` int64 [batch_size] pairs for
    :meth:`ReplayBuffer.sample`: the random numbers come from ``tf.data`` (so the Trainer's
    checkpoint of the data iterator covers the sampling RNG), the gather happens in the step."""
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    draws = tf.data.Dataset.random(seed=seed).batch(int(batch_size), drop_remainder=True)
    return draws.map(lambda d: (d, d))
