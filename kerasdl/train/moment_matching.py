"""Moment-matching training of a generator (GMMN): minimise the kernel MMD² between a batch of its
samples and a batch of data, on the Trainer's loop (Li, Swersky & Zemel, 2015; Dziugaite et al.,
2015). Optionally in a fixed feature space (e.g. an autoencoder's code: the paper's GMMN+AE).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.metrics.mmd import DEFAULT_SIGMAS, mmd2
from kerasdl.train.trainer import Trainer


class MomentMatchingTrainer(Trainer):
    """Train ``generator`` (noise -> samples) so that MMD²(G(z), x) falls.

    Args:
        generator: a Keras model with one noise input ``[B, ...]``; noise is drawn from N(0, 1),
            one sample per data example in the batch.
        optimizer: a Keras optimizer or its name.
        sigmas: Gaussian kernel bandwidths, summed (for data scaled to [-1, 1], twice the
            paper's [0, 1]-pixel values suit).
        unbiased: the U-statistic (default) or the biased V-statistic.
        encoder: an optional frozen Keras model; the MMD is then taken between
            ``encoder(G(z))`` and ``encoder(x)``.
        blowup_factor: off by default (MMD² is near 0 and noisy late in training; non-finite
            losses and weights still roll back).
        Other keyword arguments go to :class:`kerasdl.train.Trainer`. The data yields
        ``(x, anything)`` pairs with ``x`` shaped like the generator's output.
    """

    def __init__(self, generator, optimizer="adam", *, sigmas=DEFAULT_SIGMAS,
                 unbiased: bool = True, encoder=None, seed=None, blowup_factor=None, **kwargs):
        super().__init__(generator, loss="mse", optimizer=optimizer,
                         blowup_factor=blowup_factor, **kwargs)
        self.sigmas, self.unbiased, self.encoder = tuple(float(s) for s in sigmas), unbiased, encoder
        if encoder is not None:
            encoder.trainable = False
        self.noise_shape = tuple(self.model.inputs[0].shape[1:])
        with self.strategy.scope():
            self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def data_inputs(self) -> list:
        return self.model.outputs  # the data are samples, the model's own input is noise

    def sample(self, num_samples, training=False):
        """``num_samples`` generator outputs from fresh N(0, 1) noise."""
        z = keras.random.normal((num_samples, *self.noise_shape), seed=self.seed_generator)
        return self.model(z, training=training)

    def discrepancy(self, fake, real):
        """MMD² between the two batches (in the encoder's space when one is given)."""
        fake, real = tf.cast(fake, tf.float32), tf.cast(real, tf.float32)
        if self.encoder is not None:
            fake, real = self.encoder(fake, training=False), self.encoder(real, training=False)
        return mmd2(fake, real, self.sigmas, unbiased=self.unbiased)

    def train_step(self, batch):
        real = batch[0]
        variables = self.optimized_variables()
        with tf.GradientTape() as tape:
            loss = self.discrepancy(self.sample(tf.shape(real)[0], training=True), real)
            scaled = self.optimizer.scale_loss(loss / self.strategy.num_replicas_in_sync)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self.train_metrics[0].update_state(loss)
        return loss

    def eval_step(self, batch):
        real = batch[0]
        self.eval_metrics[0].update_state(self.discrepancy(self.sample(tf.shape(real)[0]), real))
