"""Functional weights for gradient-based meta-learning.

A Keras model runs on a list of weight tensors in place of its trainable variables
(``model.stateless_call``), so an inner loop can adapt those tensors with plain gradient steps
inside a compiled step, never assigning a variable, and an outer tape can differentiate through
the steps (MAML's second-order meta-gradient) or through their last point only (first order).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops
from tensorflow.python.ops import control_flow_util


def functional_call(model, weights, x, training=True):
    """``model(x)`` with ``weights`` (tensors, in ``model.trainable_variables`` order) in place of
    its trainable variables. Non-trainable state is read, never updated: a BatchNormalization layer
    with ``training=True`` normalises with the batch's statistics (MAML's reference code does so)."""
    if len(weights) != len(model.trainable_variables):
        raise ValueError(f"{model.name!r} has {len(model.trainable_variables)} trainable variables "
                         f"but {len(weights)} weight tensors were given")
    state = [v.value for v in model.non_trainable_variables]
    outputs, _ = model.stateless_call(list(weights), state, x, training=training)
    return outputs


def mean_loss(model, loss_fn, weights, x, y, training=True):
    """Mean of ``loss_fn(y, f(x))`` (a per-example loss) as float32, with ``weights``."""
    y_pred = tf.cast(functional_call(model, weights, x, training), tf.float32)
    return tf.reduce_mean(tf.cast(loss_fn(y, y_pred), tf.float32))


def inner_loop(model, loss_fn, weights, x, y, *, step_size, steps, first_order=False,
               training=True):
    """``steps`` gradient-descent steps θ ← θ − α ∇θ L(θ; x, y) from ``weights``; returns the
    adapted tensors. The steps stay differentiable with respect to ``weights`` (an enclosing tape
    then gets the exact, second-order meta-gradient); ``first_order`` treats each inner gradient
    as a constant, which drops exactly the Hessian terms (FOMAML)."""
    weights = list(weights)
    for _ in range(int(steps)):
        with tf.GradientTape() as tape:
            tape.watch(weights)
            loss = mean_loss(model, loss_fn, weights, x, y, training)
        grads = tape.gradient(loss, weights, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        if first_order:
            grads = [tf.stop_gradient(g) for g in grads]
        weights = [w - tf.cast(step_size, w.dtype) * tf.cast(g, w.dtype)
                   for w, g in zip(weights, grads)]
    return weights


def in_xla_context() -> bool:
    """True while tracing a function compiled by XLA (``jit_compile=True``) or nested in one.
    TensorFlow has no public test for this; its own internal one is used (the MAML gradient
    tests run both paths, so a TF upgrade that breaks it fails them)."""
    return bool(control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph()))


def map_tasks(fn, tasks, output_signature=tf.float32):
    """``fn`` over the leading (task) axis of the nested tensors ``tasks``, stacked.

    Vectorised (``tf.vectorized_map``: all tasks as one batched computation) except under XLA,
    where a ``tf.map_fn`` loop runs instead: XLA recompiles a vectorised inner loop on every call
    once the same compiled step also updates variables (measured with TF 2.21: 7-11 s per step).
    """
    if in_xla_context():
        return tf.map_fn(fn, tasks, fn_output_signature=output_signature)
    return tf.vectorized_map(fn, tasks)


def adaptation_curve(model, loss_fn, episode, *, step_size, steps, weights=None, training=True):
    """Query loss of each task after 0, 1, ..., ``steps`` inner steps from ``weights`` (default:
    the model's own), for a meta-batch ``((support_x, query_x), (support_y, query_y))`` with a
    leading task axis. Returns float32 ``[tasks, steps + 1]``."""
    (xs, xq), (ys, yq) = episode
    theta = [tf.convert_to_tensor(v) for v in (weights or model.trainable_variables)]

    def task(args):
        xs_, xq_, ys_, yq_ = args
        adapted, losses = theta, []
        for step in range(int(steps) + 1):
            if step:  # no outer gradient here: first order is exact and cheaper
                adapted = inner_loop(model, loss_fn, adapted, xs_, ys_, step_size=step_size,
                                     steps=1, first_order=True, training=training)
            losses.append(mean_loss(model, loss_fn, adapted, xq_, yq_, training))
        return tf.stack(losses)

    return map_tasks(task, (xs, xq, ys, yq))


def adaptation_curves_fn(model, loss_fn, *, steps, training=True):
    """A compiled ``fn(episodes, step_size, weights=None) -> np.ndarray [tasks, steps + 1]``:
    :func:`adaptation_curve` over every meta-batch of the dataset ``episodes``, concatenated.
    Traced once per meta-batch shape: ``step_size`` and ``weights`` (any network of ``model``'s
    architecture: ``[v.value for v in other.trainable_variables]``) are arguments."""

    @tf.function(reduce_retracing=True)
    def curve(batch, step_size, weights):
        return adaptation_curve(model, loss_fn, batch, step_size=step_size, steps=steps,
                                weights=weights, training=training)

    def run(episodes, step_size, weights=None):
        weights = [tf.convert_to_tensor(v) for v in (weights or model.trainable_variables)]
        alpha = tf.constant(step_size, tf.float32)
        curves = [curve(batch, alpha, weights).numpy() for batch in episodes]
        if not curves:
            raise ValueError("episodes is empty")
        return np.concatenate(curves)

    return run
