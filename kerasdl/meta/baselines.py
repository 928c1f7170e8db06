"""The non-meta few-shot baseline: per test episode, a classifier trained on that episode's
support set only — a softmax regression on fixed features (raw pixels: a classifier from
scratch; a frozen pre-trained embedding: Chen et al. 2019's "Baseline", a new linear head
fine-tuned on the support set). Every episode's head is trained at once, batched: the episodes'
losses are summed and Adam is elementwise, so each head follows its own episode's gradient.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def fit_linear_heads(support, support_labels, ways, *, steps=100, learning_rate=0.01):
    """Softmax-regression heads, one per episode, from zero weights (the problem is convex).

    ``support``: features ``[E, S, D]``; ``support_labels``: ``[E, S]`` in 0..ways−1.
    Returns ``(kernel [E, D, ways], bias [E, ways])`` after ``steps`` full-batch Adam steps on
    each episode's mean cross-entropy.
    """
    support = tf.convert_to_tensor(support, tf.float32)
    if support.shape.rank != 3 or tuple(support_labels.shape) != tuple(support.shape[:2]):
        raise ValueError(f"need support [E, S, D] and labels [E, S], got {support.shape} and "
                         f"{support_labels.shape}")
    episodes, depth = support.shape[0], support.shape[2]
    kernel = tf.Variable(tf.zeros([episodes, depth, ways]))
    bias = tf.Variable(tf.zeros([episodes, ways]))
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([kernel, bias])
    labels = tf.cast(support_labels, tf.int32)

    @tf.function
    def train():
        for _ in tf.range(int(steps)):
            with tf.GradientTape() as tape:
                logits = tf.einsum("esd,edn->esn", support, kernel) + bias[:, tf.newaxis, :]
                per_episode = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits), 1)
                loss = tf.reduce_sum(per_episode)
            optimizer.apply_gradients(zip(tape.gradient(loss, [kernel, bias]), [kernel, bias]))

    train()
    return kernel.numpy(), bias.numpy()


def linear_head_accuracy(query, query_labels, heads) -> np.ndarray:
    """Per-episode accuracy ``[E]`` of ``heads`` (from :func:`fit_linear_heads`) on the queries
    ``[E, Q, D]`` with labels ``[E, Q]``."""
    kernel, bias = heads
    logits = np.einsum("eqd,edn->eqn", np.asarray(query, np.float32), kernel) + bias[:, None, :]
    return (logits.argmax(-1) == np.asarray(query_labels)).mean(1)
