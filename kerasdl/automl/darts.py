"""DARTS: differentiable architecture search (Liu, Simonyan & Yang, 2019), first order.

The search is the bilevel problem min_α L_val(w*(α), α) s.t. w*(α) = argmin_w L_train(w, α).
Each step alternates (Algorithm 1 of the paper):

1. an architecture step: α ← α − ξ_α ∇_α L_val(w, α) on a validation batch (first order: the
   current weights stand in for w*(α); the second-order variant's finite-difference Hessian term
   is not implemented);
2. a weight step: w ← w − ξ_w ∇_w L_train(w, α) on a training batch.

The trainer runs on the kerasdl Trainer's loop (compiled step, XLA choice, checkpoints holding
both optimizers, rollback, progress); its data yields ``(x_train, y_train, x_val, y_val)``
batches (:func:`bilevel_data`). ``Supernet.genotype()`` then derives the discrete cell.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.automl.supernet import SupernetTrainer


def bilevel_data(x_train, y_train, x_val, y_val, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """Batches ``(x, y, x_val, y_val)``: a shuffled training batch with a shuffled validation
    batch; the validation stream repeats, so one pass lasts as long as the training split."""
    from kerasdl.data.pipelines import from_arrays

    train = from_arrays(x_train, y_train, batch_size, training=True, seed=seed)
    val = from_arrays(x_val, y_val, batch_size, training=True, seed=seed + 1, repeat=True)
    return tf.data.Dataset.zip(train, val).map(lambda t, v: (t[0], t[1], v[0], v[1]))


class DartsTrainer(SupernetTrainer):
    """Search a :class:`~kerasdl.automl.supernet.Supernet` with DARTS' alternating updates.

    Args:
        supernet: the supernet; its ``alpha`` is the architecture, everything else the weights.
        optimizer: the weights' optimizer (default: DARTS' SGD, lr 0.025, momentum 0.9,
            weight decay 3·10⁻⁴; pass one with a cosine schedule for long searches).
        arch_optimizer: α's optimizer (default: DARTS' Adam, lr 3·10⁻⁴, β₁ = 0.5, weight
            decay 10⁻³).
        Other keyword arguments go to :class:`kerasdl.train.Trainer`.

    Train metrics: ``loss`` and ``accuracy`` on the training batches (weight step) and
    ``arch_loss`` on the validation batches (architecture step, before the α update).
    """

    def __init__(self, supernet, optimizer=None, arch_optimizer=None, **trainer_kwargs):
        super().__init__(
            supernet, optimizer or keras.optimizers.SGD(0.025, momentum=0.9, weight_decay=3e-4),
            **trainer_kwargs)
        with self.strategy.scope():
            self.arch_optimizer = self.make_optimizer(
                arch_optimizer or keras.optimizers.Adam(3e-4, beta_1=0.5, weight_decay=1e-3),
                [supernet.alpha])
            self.train_metrics.append(keras.metrics.Mean(name="arch_loss"))  # not evaluated

    @property
    def optimizers(self) -> dict:
        return {"optimizer": self.optimizer, "arch_optimizer": self.arch_optimizer}

    def architecture_step(self, x_val, y_val):
        """α ← α − ξ_α ∇_α L_val (first order); returns L_val before the update."""
        alpha = self.supernet.alpha
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(self.compute_loss(y_val, self.forward(x_val, training=True)))
            scaled = self.arch_optimizer.scale_loss(loss / self.strategy.num_replicas_in_sync)
        self.arch_optimizer.apply_gradients([(tape.gradient(scaled, alpha), alpha)])
        return loss

    def weight_step(self, x, y):
        """w ← w − ξ_w ∇_w L_train at the current α (the Trainer's supervised step)."""
        return self.supervised_step(x, y, self.train_metrics[:2])

    def train_step(self, batch):
        x, y, x_val, y_val = batch
        self.train_metrics[2].update_state(self.architecture_step(x_val, y_val))
        return self.weight_step(x, y)

    def genotype(self):
        return self.supernet.genotype()
