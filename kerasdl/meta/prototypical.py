"""Prototypical Networks (Snell, Swersky & Zemel, 2017): classify a query by the softmax over
negative squared Euclidean distances to the class prototypes, the mean embeddings of each
class's support examples, p(y = c | x) ∝ exp(−‖f(x) − c_c‖²); trained episode by episode.

Written so that it needs no count of classes (static shapes under XLA, any N-way episode): each
support example j stands for its class through the prototype of that class, and its logit is
−‖f(x) − c_{y_j}‖² − log n_{y_j} (n: the class's support count), so that the log-sum-exp over a
class's n columns is exactly −‖f(x) − c‖²; a softmax over the columns, summed per class, is the
paper's softmax over classes.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.train.trainer import Trainer

_MASKED = -1e30  # finite: log-sum-exp and its gradient stay NaN-free


def squared_distances(a, b):
    """‖aᵢ − bⱼ‖² for ``a`` [M, D], ``b`` [N, D] -> [M, N] (float32, clipped at 0)."""
    a, b = tf.cast(a, tf.float32), tf.cast(b, tf.float32)
    d = (tf.reduce_sum(a * a, 1, keepdims=True) - 2.0 * tf.matmul(a, b, transpose_b=True)
         + tf.reduce_sum(b * b, 1)[tf.newaxis, :])
    return tf.maximum(d, 0.0)


def class_prototypes(embeddings, labels, num_classes):
    """Mean embedding of each class 0..num_classes−1 -> [num_classes, D] (the paper's c_k)."""
    return tf.math.unsorted_segment_mean(tf.cast(embeddings, tf.float32), labels, num_classes)


def support_columns(support, support_labels, query):
    """``(d [Q, S], log_n [S])``: d = ‖f(q) − c_{y_j}‖² to the prototype of support example j's
    class, and log n_{y_j}; the column logits are −d − log n (module docstring)."""
    same = tf.cast(tf.equal(support_labels[:, tf.newaxis], support_labels[tf.newaxis, :]),
                   tf.float32)  # [S, S]
    counts = tf.reduce_sum(same, 1)
    prototypes = tf.matmul(same, tf.cast(support, tf.float32)) / counts[:, tf.newaxis]
    return squared_distances(query, prototypes), tf.math.log(counts)


def prototypical_loss(support, support_labels, query, query_labels):
    """Per-query −log p(y | x), and whether its nearest prototype has its label (float 0/1)."""
    distances, log_counts = support_columns(support, support_labels, query)
    logits = -distances - log_counts[tf.newaxis, :]
    own = tf.equal(query_labels[:, tf.newaxis], support_labels[tf.newaxis, :])
    log_own = tf.reduce_logsumexp(tf.where(own, logits, _MASKED), 1)
    loss = tf.reduce_logsumexp(logits, 1) - log_own
    predicted = tf.gather(support_labels, tf.argmin(distances, 1))
    return loss, tf.cast(tf.equal(predicted, query_labels), tf.float32)


def leave_one_out_loss(embeddings, labels):
    """Per-example ProtoNet loss with the batch as its own support set, each example classified
    among its batch's class prototypes with itself left out of its own class's prototype (left
    in, a high-dimensional embedding sits trivially near its own prototype). Examples alone in
    their class have no prototype to be classified by and get loss 0."""
    e = tf.cast(embeddings, tf.float32)
    same = tf.cast(tf.equal(labels[:, tf.newaxis], labels[tf.newaxis, :]), tf.float32)  # [B, B]
    counts = tf.reduce_sum(same, 1)  # columns of each class (dedupe below), also its members
    members = counts[tf.newaxis, :] - same  # [i, j]: class(j)'s prototype size without example i
    sums = tf.matmul(same, e)[tf.newaxis] - same[:, :, tf.newaxis] * e[:, tf.newaxis, :]
    prototypes = sums / tf.maximum(members, 1.0)[:, :, tf.newaxis]  # [B, B, D]
    distances = tf.reduce_sum(tf.square(e[:, tf.newaxis, :] - prototypes), -1)
    valid = members > 0
    logits = tf.where(valid, -distances - tf.math.log(counts)[tf.newaxis, :], _MASKED)
    own = tf.logical_and(same > 0, valid)
    loss = tf.reduce_logsumexp(logits, 1) - tf.reduce_logsumexp(tf.where(own, logits, _MASKED), 1)
    return tf.where(tf.reduce_any(own, 1), loss, 0.0)


def episode_accuracy(support, support_labels, query, query_labels):
    """Nearest-prototype accuracy of each episode ``[E]`` from batched embeddings: support
    ``[E, S, D]`` with labels ``[E, S]``, queries ``[E, Q, D]`` with labels ``[E, Q]``."""
    def one(args):
        return tf.reduce_mean(prototypical_loss(*args)[1])

    return tf.vectorized_map(one, (tf.cast(support, tf.float32), tf.cast(support_labels, tf.int32),
                                   tf.cast(query, tf.float32), tf.cast(query_labels, tf.int32)))


@keras.saving.register_keras_serializable(package="kerasdl")
class PrototypicalLoss(keras.losses.Loss):
    """:func:`leave_one_out_loss` as a Keras loss, so that an embedding also trains with plain
    ``compile()/fit()`` (``y_true``: int labels ``[B]``, ``y_pred``: embeddings ``[B, D]``);
    episodic training with separate support and query sets is :class:`PrototypicalTrainer`."""

    def __init__(self, name="prototypical_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return leave_one_out_loss(y_pred, tf.reshape(tf.cast(y_true, tf.int32), [-1]))


class PrototypicalTrainer(Trainer):
    """Train an embedding network episodically (one episode per step) on the Trainer's loop.

    Data: episodes ``((support_x, query_x), (support_y, query_y))`` with int labels (any values;
    :func:`kerasdl.data.episodes.few_shot_episodes` yields 0..N−1). Metrics: ``loss`` (mean
    −log p over the queries) and ``accuracy`` (nearest prototype). Other keyword arguments go to
    :class:`kerasdl.train.Trainer` (optimizer default Adam(1e-3), as in the paper).
    """

    def __init__(self, embedding, optimizer=None, **trainer_kwargs):
        super().__init__(embedding, loss=None, optimizer=optimizer or keras.optimizers.Adam(1e-3),
                         **trainer_kwargs)
        with self.strategy.scope():
            self.train_metrics = [keras.metrics.Mean(name="loss"), keras.metrics.Mean(name="accuracy")]
            self.eval_metrics = [keras.metrics.Mean(name="loss"), keras.metrics.Mean(name="accuracy")]

    @property
    def data_inputs(self) -> list:
        return [self.model.inputs[0], self.model.inputs[0]]  # support and query images

    def episode_loss(self, episode, training):
        (xs, xq), (ys, yq) = episode
        n = tf.shape(xs)[0]
        embedded = self.model(tf.concat([xs, xq], 0), training=training)  # one BN batch
        loss, correct = prototypical_loss(embedded[:n], tf.cast(ys, tf.int32), embedded[n:],
                                          tf.cast(yq, tf.int32))
        return loss + tf.add_n(self.model.losses) if self.model.losses else loss, correct

    def train_step(self, batch):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            per_query, correct = self.episode_loss(batch, training=True)
            loss = tf.reduce_mean(per_query)
            scaled = self.optimizer.scale_loss(loss / self.strategy.num_replicas_in_sync)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self.train_metrics[0].update_state(per_query)
        self.train_metrics[1].update_state(correct)
        return loss

    def eval_step(self, batch):
        per_query, correct = self.episode_loss(batch, training=False)
        self.eval_metrics[0].update_state(per_query)
        self.eval_metrics[1].update_state(correct)
