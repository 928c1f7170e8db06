"""MAML (Finn, Abbeel & Levine, 2017) on the Trainer's loop: one compiled step is one meta-update.

For each task 𝒯ᵢ of a meta-batch, an inner loop adapts a functional copy of the weights on the
task's support set, θᵢ' = θ − α ∇θ L_support(θ) (``inner_steps`` times), and the meta-objective is
the mean query loss Σᵢ L_query(θᵢ'). Its gradient with respect to θ goes through the inner steps
(second order: (I − α ∇²L_support) ∇L_query(θ') for one step), or, with ``first_order=True``,
treats the inner gradients as constants (FOMAML: ∇L_query(θ') itself). Variables change only in
the outer update, so XLA, ``steps_per_execution``, checkpoints, rollback, progress and history
work as for any model.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.meta.adaptation import inner_loop, map_tasks, mean_loss
from kerasdl.train.trainer import Trainer


class MAMLTrainer(Trainer):
    """Meta-train ``model`` (the learner) with MAML or first-order MAML.

    Args:
        model: a Keras model (or a callable building one) mapping one task's inputs to outputs.
        loss: per-example loss of a task (MSE for regression, sparse CE for classification).
        optimizer: the meta-optimizer (default Adam(1e-3), as in the paper).
        inner_step_size: α of the inner gradient steps.
        inner_steps: inner steps at meta-training (the paper's sinusoids: 1).
        first_order: FOMAML (drop the second-order terms of the meta-gradient).
        eval_inner_steps: inner steps for ``evaluate`` (default ``inner_steps``).
        Other keyword arguments go to :class:`kerasdl.train.Trainer`.

    Data: meta-batches ``((support_x, query_x), (support_y, query_y))`` whose tensors have a leading
    task axis: ``support_x`` ``[tasks, K, ...model input]``, ``support_y`` ``[tasks, K, ...]``
    (:func:`kerasdl.data.sinusoid.sinusoid_tasks` yields them). Metrics: ``loss`` (the
    meta-objective: query loss after adaptation) and ``pre_adaptation_loss`` (query loss at θ).
    """

    def __init__(self, model, loss="mse", optimizer=None, *, inner_step_size=0.01, inner_steps=1,
                 first_order=False, eval_inner_steps=None, **trainer_kwargs):
        if int(inner_steps) < 1 or (eval_inner_steps is not None and int(eval_inner_steps) < 0):
            raise ValueError(f"need inner_steps >= 1 and eval_inner_steps >= 0, got {inner_steps} "
                             f"and {eval_inner_steps}")
        if not float(inner_step_size) > 0:
            raise ValueError(f"inner_step_size must be positive, got {inner_step_size}")
        super().__init__(model, loss, optimizer or keras.optimizers.Adam(1e-3), **trainer_kwargs)
        self.inner_step_size, self.inner_steps = float(inner_step_size), int(inner_steps)
        self.first_order = bool(first_order)
        self.eval_inner_steps = self.inner_steps if eval_inner_steps is None else int(eval_inner_steps)
        with self.strategy.scope():
            self.train_metrics = [keras.metrics.Mean(name="loss"),
                                  keras.metrics.Mean(name="pre_adaptation_loss")]
            self.eval_metrics = [keras.metrics.Mean(name="loss"),
                                 keras.metrics.Mean(name="pre_adaptation_loss")]

    @property
    def data_inputs(self) -> list:
        """Support and query inputs: the model's input with a leading task axis."""
        shape = tuple(self.model.inputs[0].shape[1:])
        return [keras.Input((None, *shape), name=n) for n in ("support_x", "query_x")]

    def task_losses(self, episode, steps, first_order):
        """``[tasks, 2]``: each task's query loss before and after ``steps`` inner steps, as a
        differentiable function of the model's weights."""
        (xs, xq), (ys, yq) = episode
        theta = [tf.convert_to_tensor(v) for v in self.model.trainable_variables]

        def task(args):
            xs_, xq_, ys_, yq_ = args
            adapted = inner_loop(self.model, self.loss_fn, theta, xs_, ys_,
                                 step_size=self.inner_step_size, steps=steps,
                                 first_order=first_order)
            return tf.stack([mean_loss(self.model, self.loss_fn, theta, xq_, yq_),
                             mean_loss(self.model, self.loss_fn, adapted, xq_, yq_)])

        return map_tasks(task, (xs, xq, ys, yq))

    def train_step(self, batch):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            losses = self.task_losses(batch, self.inner_steps, self.first_order)
            loss = tf.reduce_mean(losses[:, 1])
            scaled = self.optimizer.scale_loss(loss / self.strategy.num_replicas_in_sync)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self.train_metrics[0].update_state(losses[:, 1])
        self.train_metrics[1].update_state(losses[:, 0])
        return loss

    def eval_step(self, batch):
        losses = self.task_losses(batch, self.eval_inner_steps, first_order=True)
        self.eval_metrics[0].update_state(losses[:, 1])
        self.eval_metrics[1].update_state(losses[:, 0])
