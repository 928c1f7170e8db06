"""VAE-GAN (Larsen et al. 2016, "Autoencoding beyond pixels using a learned similarity metric").

A VAE whose decoder is also a GAN generator, and whose reconstruction error is measured in a
discriminator feature layer ``Dis_l`` instead of pixel space. With ``x̃ = Dec(z)``,
``z = mu + sigma·eps`` (``mu, log sigma² = Enc(x)``) and ``x_p = Dec(z_p)``, ``z_p ~ N(0, I)``,
per example (means over the batch):

* ``L_prior = KL(q(z|x) || N(0, I)) = ½ Σ_j (mu_j² + sigma_j² − 1 − log sigma_j²)``
* ``L_llike = −log N(Dis_l(x) | Dis_l(x̃), I) = ½ ‖Dis_l(x) − Dis_l(x̃)‖²`` (constants dropped;
  the sum runs over every element of the feature map)
* discriminator, BCE on logits: ``−log D(x) − log(1 − D(x̃)) − log(1 − D(x_p))``

Updates (the paper's Algorithm 1, with the non-saturating generator loss it uses in practice):
encoder ``L_prior + L_llike``; decoder ``γ·L_llike − log D(x̃) − log D(x_p)``; discriminator its
BCE above. :class:`VAEGANTrainer` is a :class:`~kerasdl.train.adversarial.GANTrainer`, so XLA
choice, checkpoints (the encoder and its optimizer included), rollback and progress are the
Trainer's. Train metrics: ``d_loss``, ``g_loss`` (decoder), ``kl``, ``feature_loss`` (L_llike).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.layers.sampling import gaussian_kl
from kerasdl.models.base import FunctionalModel
from kerasdl.train.adversarial import GANTrainer


@keras.saving.register_keras_serializable(package="kerasdl")
class ConvEncoder(FunctionalModel):
    """28x28x1 image in [-1, 1] -> ``concat(mu, log sigma²)`` [B, 2·latent_dim]: two stride-2
    convs (BN, LeakyReLU), a dense layer. Not in the model registry: it has no contract task."""

    @staticmethod
    def build_graph(latent_dim=100, filters=64):
        image = keras.Input((28, 28, 1), name="image")
        h = image
        for i, f in enumerate((filters, 2 * filters)):
            h = keras.layers.Conv2D(f, 4, 2, "same", use_bias=False, name=f"conv{i}")(h)
            h = keras.layers.BatchNormalization(name=f"bn{i}")(h)
            h = keras.layers.LeakyReLU(0.2, name=f"act{i}")(h)
        h = keras.layers.Flatten(name="flatten")(h)
        return image, keras.layers.Dense(2 * latent_dim, name="mean_logvar", dtype="float32")(h)


class VAEGANTrainer(GANTrainer):
    """Train ``encoder`` + ``generator`` (the decoder) + ``discriminator`` as a VAE-GAN.

    Args:
        encoder: image -> ``concat(mean, logvar)`` [B, 2·latent_dim] (e.g. :class:`ConvEncoder`).
        generator, discriminator: unconditional networks (``kerasdl.models.generative.gan_networks``).
        feature_layer: the discriminator layer ``Dis_l`` of the learned similarity.
        reconstruction_weight: γ, the weight of ``L_llike`` in the decoder's loss.
        e_optimizer: the encoder's optimizer (default Adam(2e-4, β₁ = 0.5)).
        gan_kwargs: :class:`GANTrainer`'s (g_optimizer, d_optimizer, seed, jit_compile, ...);
            the objective is the non-saturating BCE one.
    """

    def __init__(self, encoder, generator, discriminator, feature_layer="down7_act", *,
                 reconstruction_weight=1e-2, e_optimizer=None, **gan_kwargs):
        if len(generator.inputs) != 1:
            raise ValueError("VAEGANTrainer takes an unconditional generator (noise input only)")
        super().__init__(generator, discriminator, objective="non_saturating", **gan_kwargs)
        if int(encoder.outputs[0].shape[-1]) != 2 * self.latent_dim:
            raise ValueError(f"the encoder must output 2·latent_dim = {2 * self.latent_dim} "
                             f"values (mean, logvar), got {encoder.outputs[0].shape[-1]}")
        self.reconstruction_weight = float(reconstruction_weight)
        self.feature_layer = feature_layer
        self.dis_features = keras.Model(discriminator.inputs[0],
                                        discriminator.get_layer(feature_layer).output)
        with self.strategy.scope():
            self.model.encoder = encoder  # tracked: checkpoints and the finite-weights check
            self.e_optimizer = self.make_optimizer(
                e_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5),
                encoder.trainable_variables)
            self.train_metrics += [keras.metrics.Mean(name="kl"),
                                   keras.metrics.Mean(name="feature_loss")]

    @property
    def encoder(self):
        return self.model.encoder

    @property
    def optimizers(self) -> dict:
        return {**super().optimizers, "e_optimizer": self.e_optimizer}

    # ----------------------------------------------------------------------------- losses
    def encode(self, images, training=True):
        """``(mean, logvar, z)`` with ``z = mean + exp(logvar / 2)·eps``."""
        out = tf.cast(self.encoder(images, training=training), tf.float32)
        mean, logvar = tf.split(out, 2, axis=-1)
        eps = keras.random.normal(tf.shape(mean), seed=self.model.noise_seed)
        return mean, logvar, mean + tf.exp(0.5 * logvar) * eps

    def feature_loss(self, images, reconstructions, training=True):
        """Per-example ``L_llike = ½ ‖Dis_l(x) − Dis_l(x̃)‖²`` (sum over the feature map)."""
        real = tf.cast(self.dis_features(images, training=training), tf.float32)
        fake = tf.cast(self.dis_features(reconstructions, training=training), tf.float32)
        diff = tf.reshape(fake - tf.stop_gradient(real), [tf.shape(images)[0], -1])
        return 0.5 * tf.reduce_sum(tf.square(diff), axis=-1)

    # ------------------------------------------------------------------------------ step
    def train_step(self, batch):
        images = batch[0]
        E, G, D = self.encoder, self.generator, self.discriminator
        n = tf.shape(images)[0]

        # Discriminator: real vs reconstructions and prior samples.
        _, _, z = self.encode(images)
        z_p = keras.random.normal((n, self.latent_dim), seed=self.model.noise_seed)
        with tf.GradientTape() as tape:
            x_rec, x_p = G(z, training=True), G(z_p, training=True)
            r = tf.reshape(tf.cast(D(images, training=True), tf.float32), [-1])
            f_rec = tf.reshape(tf.cast(D(x_rec, training=True), tf.float32), [-1])
            f_p = tf.reshape(tf.cast(D(x_p, training=True), tf.float32), [-1])
            d_loss = tf.reduce_mean(tf.nn.softplus(-r) + tf.nn.softplus(f_rec) + tf.nn.softplus(f_p))
            scaled = self._scaled(self.optimizer, d_loss)
        self._apply(self.optimizer, scaled, tape, D.trainable_variables)

        # Encoder and decoder, each with its own loss, from one forward pass.
        with tf.GradientTape(persistent=True) as tape:
            mean, logvar, z = self.encode(images)
            x_rec, x_p = G(z, training=True), G(z_p, training=True)
            kl = tf.reduce_mean(gaussian_kl(mean, logvar))
            llike = tf.reduce_mean(self.feature_loss(images, x_rec))
            f_rec = tf.reshape(tf.cast(D(x_rec, training=True), tf.float32), [-1])
            f_p = tf.reshape(tf.cast(D(x_p, training=True), tf.float32), [-1])
            g_loss = self.reconstruction_weight * llike + tf.reduce_mean(
                tf.nn.softplus(-f_rec) + tf.nn.softplus(-f_p))
            e_scaled = self._scaled(self.e_optimizer, kl + llike)
            g_scaled = self._scaled(self.g_optimizer, g_loss)
        self._apply(self.e_optimizer, e_scaled, tape, E.trainable_variables)
        self._apply(self.g_optimizer, g_scaled, tape, G.trainable_variables)
        del tape
        for metric, value in zip(self.train_metrics, (d_loss, g_loss, kl, llike)):
            metric.update_state(value)
        return d_loss + g_loss

    def reconstruct(self, images):
        """``Dec(mean of q(z|x))`` in inference mode."""
        mean, _ = tf.split(tf.cast(self.encoder(images, training=False), tf.float32), 2, axis=-1)
        return self.generator(mean, training=False)
