"""The reparameterisation trick for a diagonal-Gaussian posterior, and its KL to N(0, I).

``GaussianSampling`` maps ``(z_mean, z_log_var)`` to ``z = z_mean + exp(z_log_var / 2) * eps`` with
``eps ~ N(0, I)`` drawn from a Keras seed generator, so gradients reach ``z_mean`` and ``z_log_var``
through a deterministic path (Kingma & Welling 2014, sec. 2.4). With ``kl_weight > 0`` it also adds
``kl_weight * mean_batch(KL(N(mu, sigma^2) || N(0, I)))`` with ``add_loss``: the per-example KL is
summed over latent dimensions, so it pairs with a reconstruction loss summed over pixels per example.

Outside training it returns ``z_mean`` (the posterior mode): inference is deterministic, which keeps
export parity checkable; Monte-Carlo ELBO estimates sample explicitly (``gaussian_sample``).
"""
from __future__ import annotations

import keras
from keras import ops


def gaussian_kl(z_mean, z_log_var):
    """Closed-form KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over the last axis:
    ``0.5 * sum(mean^2 + exp(log_var) - 1 - log_var)``."""
    z_mean = ops.cast(z_mean, "float32")
    z_log_var = ops.cast(z_log_var, "float32")
    return 0.5 * ops.sum(ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var, axis=-1)


def gaussian_sample(z_mean, z_log_var, seed=None):
    """One reparameterised draw ``z_mean + exp(z_log_var / 2) * eps``, ``eps ~ N(0, I)``."""
    eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=seed)
    return z_mean + ops.exp(0.5 * z_log_var) * eps


@keras.saving.register_keras_serializable(package="kerasdl")
class GaussianSampling(keras.layers.Layer):
    """``[z_mean, z_log_var] -> z``: a reparameterised sample in training, ``z_mean`` otherwise.

    Args:
        kl_weight: weight of the batch-mean KL term added with ``add_loss`` (the VAE's beta);
            0 adds nothing.
        seed: seed of the layer's random generator.
    """

    def __init__(self, kl_weight: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.kl_weight = float(kl_weight)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        z_mean, z_log_var = inputs
        if self.kl_weight:
            self.add_loss(self.kl_weight * ops.mean(gaussian_kl(z_mean, z_log_var)))
        if not training:
            return z_mean
        return gaussian_sample(z_mean, z_log_var, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "kl_weight": self.kl_weight, "seed": self.seed}
