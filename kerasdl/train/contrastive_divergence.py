"""Contrastive divergence (CD-k) and persistent CD training of RBMs on the Trainer's loop.

The log-likelihood gradient of a binary RBM is ``∂log p(v)/∂W = <v hᵀ>_data − <v hᵀ>_model``
(with ``h`` replaced by ``p(h|v)``, its conditional mean). CD-k (Hinton, 2002) estimates the model
term from ``v_k``, ``k`` Gibbs sweeps started at the data; persistent CD (PCD, Tieleman, 2008)
keeps ``num_chains`` chains running across updates instead. Since
``∂F(v)/∂W = −v p(h|v)ᵀ`` (and ``−v``, ``−p(h|v)`` for the biases), the update is the gradient of

    loss = mean F(v_data) − mean F(stop_gradient(v_k)),

so an ordinary Keras optimizer minimising it follows the CD statistics
(tests/test_rbm.py checks the identity). That free-energy gap is the logged ``loss``; it is not a
likelihood and need not decrease. Progress is the ``reconstruction_error`` (mean squared error of
``p(v | h)``, ``h ~ p(h | v_data)``: one Gibbs step) and the data's mean ``free_energy``.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasdl.train.trainer import Trainer


def free_energy_gap(rbm, v_data, v_model):
    """``mean F(v_data) − mean F(stop_gradient(v_model))``: its gradient is minus the CD
    statistics ``<v hᵀ>_data − <v hᵀ>_model`` (``rbm``: a :class:`BernoulliRBM` layer)."""
    return (tf.reduce_mean(rbm.free_energy(v_data))
            - tf.reduce_mean(rbm.free_energy(tf.stop_gradient(v_model))))


def reconstruction_error(rbm, v):
    """Per-example mean squared error of one Gibbs step's reconstruction ``p(v | h ~ p(h|v))``."""
    _, h = rbm.sample_h(v)
    return tf.reduce_mean(tf.square(v - rbm.visible_probs(h)), axis=-1)


class _Chains(tf.Module):
    """The persistent chains' state (a ``tf.Module``, so it is checkpointed and restored)."""

    def __init__(self, state):
        super().__init__(name="persistent_chains")
        self.state = tf.Variable(state, trainable=False, name="state")


class ContrastiveDivergenceTrainer(Trainer):
    """Train an :class:`kerasdl.models.generative.rbm.RBM` by CD-k or persistent CD.

    Args:
        model: the RBM (anything with an ``rbm`` :class:`BernoulliRBM` layer and ``flat``).
        optimizer: a Keras optimizer (default SGD 0.01 with momentum 0.9).
        k: Gibbs sweeps per update (CD-1, CD-10, ...).
        persistent: PCD: the negative phase continues ``num_chains`` chains (random bits at the
            start, checkpointed with the optimizer) instead of restarting at the batch.
        blowup_factor: off by default, as the free-energy gap has no fixed sign or scale
            (non-finite losses and weights still roll back).
        Other keyword arguments go to :class:`kerasdl.train.Trainer`. The data yields
        ``(v, anything)`` pairs, ``v`` shaped like the model's input, values in [0, 1].
    """

    def __init__(self, model, optimizer=None, *, k: int = 1, persistent: bool = False,
                 num_chains: int = 100, seed: int = 0, blowup_factor=None, **kwargs):
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        metrics = [keras.metrics.Mean(name="reconstruction_error"),
                   keras.metrics.Mean(name="free_energy")]
        optimizer = optimizer or keras.optimizers.SGD(0.01, momentum=0.9)
        super().__init__(model, loss="binary_crossentropy", optimizer=optimizer, metrics=metrics,
                         blowup_factor=blowup_factor, **kwargs)
        self.k, self.persistent = int(k), bool(persistent)
        self.rbm = self.model.rbm
        self.chains = None
        if self.persistent:
            bits = np.random.default_rng(seed).integers(0, 2, (int(num_chains), self.model.num_visible))
            with self.strategy.scope():
                self.chains = _Chains(bits.astype(np.float32))

    @property
    def extra_state(self) -> dict:
        return {"persistent_chains": self.chains} if self.chains is not None else {}

    def negative_samples(self, v_data):
        """``v_k``: ``k`` Gibbs sweeps from the batch (CD) or from the persistent chains (PCD)."""
        if not self.persistent:
            return self.rbm.gibbs(v_data, self.k)[0]
        v_k = self.rbm.gibbs(self.chains.state, self.k)[0]
        self.chains.state.assign(v_k)
        return v_k

    def _update(self, metrics, v_data, loss):
        metrics[0].update_state(loss)
        metrics[1].update_state(reconstruction_error(self.rbm, v_data))
        metrics[2].update_state(self.rbm.free_energy(v_data))

    def train_step(self, batch):
        v_data = self.model.flat(batch[0])
        v_model = self.negative_samples(v_data)
        variables = self.optimized_variables()
        with tf.GradientTape() as tape:
            loss = free_energy_gap(self.rbm, v_data, v_model)
            scaled = self.optimizer.scale_loss(loss / self.strategy.num_replicas_in_sync)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self._update(self.train_metrics, v_data, loss)
        return loss

    def eval_step(self, batch):
        """CD-k gap from the batch (chains untouched), reconstruction error, free energy."""
        v_data = self.model.flat(batch[0])
        v_model = self.rbm.gibbs(v_data, self.k)[0]
        self._update(self.eval_metrics, v_data, free_energy_gap(self.rbm, v_data, v_model))
