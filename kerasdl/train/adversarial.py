"""GAN training on the Trainer's machinery: one compiled step updates the discriminator (critic)
and then the generator; checkpoints hold both networks and both optimizers, so resume, rollback on
non-finite losses, XLA choice, strategies and progress work as for any model.

Objectives, per example, with r = D(x) and f = D(G(z)) as logits (or critic scores):

=====================  =======================================  ================================
objective              discriminator loss                        generator loss
=====================  =======================================  ================================
minimax                −log σ(r) − log(1−σ(f))                   log(1−σ(f))  (saturates)
non_saturating         same                                      −log σ(f)
least_squares (LSGAN)  ½(r−1)² + ½f²                             ½(f−1)²
wasserstein (WGAN)     f − r   (+ clipping or gradient penalty)  −f
hinge (SNGAN/SAGAN)    max(0, 1−r) + max(0, 1+f)                 −f
relativistic_average   −log σ(r−E f) − log(1−σ(f−E r))           −log σ(f−E r) − log(1−σ(r−E f))
=====================  =======================================  ================================

The min-max value is V(G, D) = E log D(x) + E log(1 − D(G(z))); the curriculum (004, line 383)
writes log D(G(z)) in its second term, a typo — that is the non-saturating generator's objective.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.train.trainer import Trainer

GAN_OBJECTIVES = ("minimax", "non_saturating", "least_squares", "wasserstein", "hinge",
                  "relativistic_average")
_BCE_OBJECTIVES = ("minimax", "non_saturating")


def _flat(scores):
    """[B, 1] (or [B]) scores as float32 [B]."""
    return tf.reshape(tf.cast(scores, tf.float32), [-1])


def discriminator_loss(objective: str, real, fake, label_smoothing: float = 0.0):
    """Per-example discriminator loss from real and fake logits (scores); one-sided label
    smoothing sets the real target to ``1 − label_smoothing`` (BCE objectives only)."""
    r, f = _flat(real), _flat(fake)
    if objective in _BCE_OBJECTIVES:
        s = label_smoothing
        return (1 - s) * tf.nn.softplus(-r) + s * tf.nn.softplus(r) + tf.nn.softplus(f)
    if objective == "least_squares":
        return 0.5 * tf.square(r - 1) + 0.5 * tf.square(f)
    if objective == "wasserstein":
        return f - r
    if objective == "hinge":
        return tf.nn.relu(1 - r) + tf.nn.relu(1 + f)
    if objective == "relativistic_average":
        return tf.nn.softplus(-(r - tf.reduce_mean(f))) + tf.nn.softplus(f - tf.reduce_mean(r))
    raise ValueError(f"unknown GAN objective {objective!r}; choose from {GAN_OBJECTIVES}")


def generator_loss(objective: str, real, fake):
    """Per-example generator loss; ``real`` is used only by the relativistic objective."""
    f = _flat(fake)
    if objective == "minimax":
        return -tf.nn.softplus(f)  # log(1 − σ(f))
    if objective == "non_saturating":
        return tf.nn.softplus(-f)  # −log σ(f)
    if objective == "least_squares":
        return 0.5 * tf.square(f - 1)
    if objective in ("wasserstein", "hinge"):
        return -f
    if objective == "relativistic_average":
        r = _flat(real)
        return tf.nn.softplus(-(f - tf.reduce_mean(r))) + tf.nn.softplus(r - tf.reduce_mean(f))
    raise ValueError(f"unknown GAN objective {objective!r}; choose from {GAN_OBJECTIVES}")


def gradient_penalty(critic, real, fake, labels=None, seed=None):
    """WGAN-GP (Gulrajani et al. 2017): mean over the batch of (‖∇ₓ̂ D(x̂)‖₂ − 1)² at random
    interpolates x̂ = εx + (1 − ε)G(z), ε ~ U[0, 1] per example."""
    shape = [tf.shape(real)[0]] + [1] * (len(real.shape) - 1)
    eps = keras.random.uniform(shape, seed=seed)
    mixed = eps * real + (1 - eps) * tf.cast(fake, real.dtype)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed if labels is None else (mixed, labels), training=True)
        total = tf.reduce_sum(tf.cast(scores, tf.float32))  # rows are independent: ∂total/∂x̂ᵢ
    grads = tf.reshape(tape.gradient(total, mixed), [tf.shape(real)[0], -1])
    return tf.reduce_mean(tf.square(tf.norm(tf.cast(grads, tf.float32), axis=1) - 1.0))


class AdversarialPair(keras.Model):
    """Generator + discriminator as one trackable model (variables, checkpoints, noise RNG);
    calling it generates."""

    def __init__(self, generator, discriminator, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.noise_seed = keras.random.SeedGenerator(seed, name="noise")

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)


class GANTrainer(Trainer):
    """Train ``generator`` against ``discriminator`` with one of ``GAN_OBJECTIVES``.

    Args:
        generator: a Keras model, noise ``[B, latent]`` (or ``(noise, int labels)``) -> images.
        discriminator: a Keras model, images (or ``(images, labels)``) -> logits/scores ``[B, 1]``.
            Conditional training is chosen by the generator having two inputs.
        g_optimizer, d_optimizer: default Adam(2e-4, β₁ = 0.5) (DCGAN); different learning rates
            give TTUR (Heusel et al. 2017).
        d_steps: discriminator (critic) updates per generator update (WGAN: 5).
        gradient_penalty: WGAN-GP's λ (0 = off).
        clip_weights: WGAN's clipping bound c for every discriminator weight (None = off).
        label_smoothing: one-sided label smoothing of the real target (BCE objectives).
        feature_matching: name of a discriminator layer; the generator then minimises
            ‖E f(x) − E f(G(z))‖² on that layer's output instead of its adversarial loss.
        seed: seed of the noise generator.
        trainer_kwargs: the Trainer's (strategy, jit_compile, checkpoint_dir, log_dir, verbose...);
            the blow-up check is off by default (GAN losses swing by design).

    Data: batches of ``(images, labels)`` (labels used only when conditional). Train metrics:
    ``d_loss`` and ``g_loss`` (means of the objective's per-example losses, penalty included).
    """

    def __init__(self, generator, discriminator, objective="non_saturating", *, g_optimizer=None,
                 d_optimizer=None, d_steps=1, gradient_penalty=0.0, clip_weights=None,
                 label_smoothing=0.0, feature_matching=None, seed=None, **trainer_kwargs):
        if objective not in GAN_OBJECTIVES:
            raise ValueError(f"unknown GAN objective {objective!r}; choose from {GAN_OBJECTIVES}")
        if label_smoothing and objective not in _BCE_OBJECTIVES:
            raise ValueError(f"label_smoothing applies to {_BCE_OBJECTIVES}, not {objective!r}")
        if not 0.0 <= label_smoothing < 1.0 or int(d_steps) < 1 or gradient_penalty < 0:
            raise ValueError("need 0 <= label_smoothing < 1, d_steps >= 1, gradient_penalty >= 0")
        if len(generator.inputs) != len(discriminator.inputs):
            raise ValueError("conditional GANs give both networks a label input; the generator "
                             f"takes {len(generator.inputs)} inputs, the discriminator "
                             f"{len(discriminator.inputs)}")
        self.objective, self.d_steps = objective, int(d_steps)
        self.gp_weight, self.clip = float(gradient_penalty), clip_weights
        self.label_smoothing = float(label_smoothing)
        self.conditional = len(generator.inputs) == 2
        self.latent_dim = int(generator.inputs[0].shape[-1])
        trainer_kwargs.setdefault("blowup_factor", None)
        adam = lambda: keras.optimizers.Adam(2e-4, beta_1=0.5)  # noqa: E731
        super().__init__(AdversarialPair(generator, discriminator, seed=seed), loss=None,
                         optimizer=d_optimizer or adam(), **trainer_kwargs)
        with self.strategy.scope():
            self.g_optimizer = self.make_optimizer(g_optimizer or adam(),
                                                   generator.trainable_variables)
            self.train_metrics = [keras.metrics.Mean(name="d_loss"),
                                  keras.metrics.Mean(name="g_loss")]
        self.features = None
        if feature_matching is not None:
            layer = discriminator.get_layer(feature_matching)  # ValueError names unknown layers
            inputs = discriminator.inputs if self.conditional else discriminator.inputs[0]
            self.features = keras.Model(inputs, layer.output)

    @property
    def generator(self):
        return self.model.generator

    @property
    def discriminator(self):
        return self.model.discriminator

    def optimized_variables(self) -> list:
        return self.model.discriminator.trainable_variables

    @property
    def optimizers(self) -> dict:
        return {"d_optimizer": self.optimizer, "g_optimizer": self.g_optimizer}

    @property
    def data_inputs(self) -> list:
        return self.model.discriminator.inputs[:1]

    # ----------------------------------------------------------------------------- steps
    def _with_labels(self, x, labels):
        return (x, labels) if self.conditional else x

    def _generate(self, labels, batch_size, training=True):
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.model.noise_seed)
        return self.generator(self._with_labels(z, labels), training=training)

    def _scaled(self, optimizer, loss):
        """The loss to differentiate (inside the tape): fp16 loss scaling, and a per-replica share
        because the optimizer sums gradients over replicas."""
        return optimizer.scale_loss(loss / self.strategy.num_replicas_in_sync)

    @staticmethod
    def _apply(optimizer, scaled_loss, tape, variables):
        optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), variables))

    def discriminator_step(self, images, labels):
        D, batch = self.discriminator, tf.shape(images)[0]
        with tf.GradientTape() as tape:
            fake = self._generate(labels, batch)
            real_out = D(self._with_labels(images, labels), training=True)
            fake_out = D(self._with_labels(fake, labels), training=True)
            loss = tf.reduce_mean(discriminator_loss(self.objective, real_out, fake_out,
                                                     self.label_smoothing))
            if self.gp_weight:
                loss += self.gp_weight * gradient_penalty(
                    D, images, fake, labels if self.conditional else None, self.model.noise_seed)
            if D.losses:
                loss += tf.add_n([tf.cast(l, tf.float32) for l in D.losses])
            scaled = self._scaled(self.optimizer, loss)
        self._apply(self.optimizer, scaled, tape, D.trainable_variables)
        if self.clip is not None:
            for v in D.trainable_variables:
                v.assign(tf.clip_by_value(v, -self.clip, self.clip))
        return loss

    def generator_step(self, images, labels):
        G, D, batch = self.generator, self.discriminator, tf.shape(images)[0]
        with tf.GradientTape() as tape:
            fake = self._generate(labels, batch)
            if self.features is not None:
                real_f = tf.stop_gradient(self.features(self._with_labels(images, labels),
                                                        training=True))
                fake_f = self.features(self._with_labels(fake, labels), training=True)
                diff = tf.reduce_mean(tf.cast(real_f, tf.float32), 0) - \
                    tf.reduce_mean(tf.cast(fake_f, tf.float32), 0)
                loss = tf.reduce_sum(tf.square(diff))
            else:
                fake_out = D(self._with_labels(fake, labels), training=True)
                real_out = (D(self._with_labels(images, labels), training=True)
                            if self.objective == "relativistic_average" else fake_out)
                loss = tf.reduce_mean(generator_loss(self.objective, real_out, fake_out))
            if G.losses:
                loss += tf.add_n([tf.cast(l, tf.float32) for l in G.losses])
            scaled = self._scaled(self.g_optimizer, loss)
        self._apply(self.g_optimizer, scaled, tape, G.trainable_variables)
        return loss

    def train_step(self, batch):
        """One discriminator update, then a generator update on every ``d_steps``-th step.
        Returns d_loss + g_loss (the guard's non-finite check; the blow-up check is off)."""
        images, labels = batch[0], batch[1]
        d_loss = self.discriminator_step(images, labels)
        self.train_metrics[0].update_state(d_loss)
        if self.d_steps == 1:
            g_loss = self.generator_step(images, labels)
            self.train_metrics[1].update_state(g_loss)
            return d_loss + g_loss

        def update_generator():
            g_loss = self.generator_step(images, labels)
            self.train_metrics[1].update_state(g_loss)
            return g_loss

        g_loss = tf.cond(self.optimizer.iterations % self.d_steps == 0, update_generator,
                         lambda: tf.constant(0.0))
        return d_loss + g_loss

    def evaluate(self, data) -> dict:
        raise NotImplementedError("a GAN has no held-out loss worth reporting; score samples with "
                                  "kerasdl.metrics.GenerativeEvaluator (FID, IS) via fit callbacks")

    def sample(self, num: int, labels=None, seed: int = 0):
        """``num`` generated images (inference mode) from fixed-seed noise."""
        z = tf.random.stateless_normal((num, self.latent_dim), seed=(seed, 0))
        if self.conditional:
            if labels is None:
                raise ValueError("a conditional generator needs labels")
            return self.generator((z, tf.constant(labels, tf.int32)), training=False)
        return self.generator(z, training=False)
