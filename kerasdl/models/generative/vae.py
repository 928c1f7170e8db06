"""Variational autoencoders: ``vae``, ``beta_vae`` and the conditional ``cvae`` (reconstruction task).

Model (Kingma & Welling 2014): prior p(z) = N(0, I), decoder p(x|z) = Bernoulli(sigmoid(logits)) per
pixel, encoder q(z|x) = N(z_mean, diag(exp(z_log_var))). Training maximises the evidence lower bound

    log p(x) >= log p(x) - KL(q(z|x) || p(z|x)) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) = ELBO.

Curriculum note (004 chapter, line 261, the VAE bound): its first line writes the gap as
KL(Q(z|x) || p(x|z)); the gap between log p(x) and the bound is the KL to the true POSTERIOR,
KL(Q(z|x) || p(z|x)) — p(x|z) is not even a distribution over z. Its second line is right.

Loss bookkeeping: the KL per example (summed over latent dimensions, closed form), times ``beta``, is
added by the ``GaussianSampling`` layer with ``add_loss``; train with ``BernoulliReconstructionLoss``
(sigmoid BCE summed over pixels per example) and the Trainer's loss is exactly
``recon + beta * KL`` = -ELBO in nats per image when beta = 1. ``beta_vae`` (Higgins et al. 2017)
is the same class with beta = 4: a stronger pull to the factorised prior, traded against
reconstruction, which encourages disentangled latents. ``cvae`` (Sohn et al. 2015) conditions both
encoder and decoder on the one-hot label: q(z|x, y), p(x|z, y); its decoder then generates a chosen
class. Outside training the model decodes z_mean (deterministic); ``negative_elbo`` estimates the
bound with reparameterised samples.

Pixel intensities in [0, 1] serve directly as Bernoulli targets (continuous targets; the usual
practice for (Fashion-)MNIST VAEs), so the "NLL" is a cross-entropy, not a discrete likelihood.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from kerasdl.layers.sampling import GaussianSampling, gaussian_kl, gaussian_sample
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.generative.autoencoder import _check_shape, conv_decoder, conv_encoder


@keras.saving.register_keras_serializable(package="kerasdl")
class BernoulliReconstructionLoss(keras.losses.Loss):
    """Sigmoid cross-entropy of per-pixel logits against targets in [0, 1], summed over every
    non-batch axis: -log p(x|z) in nats per example."""

    def __init__(self, name="bernoulli_reconstruction", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, "float32")
        bce = ops.binary_crossentropy(y_true, y_pred, from_logits=True)
        return ops.sum(ops.reshape(bce, (ops.shape(bce)[0], -1)), axis=-1)


def _small(image_pixels=28 * 28):
    # The contract trains with a pixel-MEAN BCE; beta = 1/pixels keeps its KL on the same
    # per-pixel scale (the ELBO divided by the pixel count). Its targets are uniform noise, which
    # no sampled bottleneck reconstructs in 20 steps; a narrow initial posterior (log-var -6)
    # starts with a large KL that the step must lower.
    return {"filters": (32,), "hidden": 0, "latent_dim": 64, "beta": 1.0 / image_pixels,
            "log_var_init": -6.0}


@register_model("vae", task="reconstruction", small=_small(), deployable=True,
                tags=("generative", "vae"))
@register_model("beta_vae", task="reconstruction", defaults={"beta": 4.0}, small=_small(),
                deployable=True, tags=("generative", "vae"))
class VAE(FunctionalModel):
    """Image in [0, 1] -> (z_mean, z_log_var) -> z -> per-pixel logits; adds beta * KL.
    ``log_var_init``: initial bias of the z_log_var head (0: the prior's unit variance)."""

    @staticmethod
    def build_graph(image_shape=(28, 28, 1), filters=(32, 64), hidden=256, latent_dim=16,
                    beta=1.0, seed=None, log_var_init=0.0):
        return _build(image_shape, filters, hidden, latent_dim, beta, seed, log_var_init, 0)


@register_model("cvae", task="reconstruction", small={**_small(), "num_classes": 10},
                deployable=False, tags=("generative", "vae", "conditional"))
class ConditionalVAE(FunctionalModel):
    """(image, int32 label) -> per-pixel logits; encoder and decoder see one_hot(label).
    Not deployable as a two-input model: export ``export_decoder_model(model)`` (one input)."""

    @staticmethod
    def build_graph(image_shape=(28, 28, 1), filters=(32, 64), hidden=256, latent_dim=16,
                    num_classes=10, beta=1.0, seed=None, log_var_init=0.0):
        return _build(image_shape, filters, hidden, latent_dim, beta, seed, log_var_init,
                      num_classes)


def _one_hot(label, num_classes):
    return layers.CategoryEncoding(num_classes, output_mode="one_hot", name="one_hot")(label)


def _build(image_shape, filters, hidden, latent_dim, beta, seed, log_var_init, num_classes):
    image_shape, filters = tuple(image_shape), tuple(filters)
    _check_shape(image_shape, filters)
    image = keras.Input(image_shape, name="image")
    encoder = conv_encoder(image_shape, filters, hidden, [latent_dim, latent_dim],
                           extra_input_dim=num_classes, bias_inits=[0.0, log_var_init])
    decoder = conv_decoder(latent_dim + num_classes, image_shape, filters, hidden)
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        condition = _one_hot(label, num_classes)
        z_mean, z_log_var = encoder([image, condition])
    else:
        z_mean, z_log_var = encoder(image)
    z = GaussianSampling(kl_weight=beta, seed=seed, name="sampling")([z_mean, z_log_var])
    if num_classes:
        z = layers.Concatenate(name="join_condition")([z, condition])
    logits = decoder(z)
    return ([image, label] if num_classes else image), logits


# ----------------------------------------------------------------------------- sub-networks
def _num_classes(model) -> int:
    return int(model.get_config().get("num_classes", 0))


def encoder_model(model):
    """The trained encoder: image (CVAE: (image, label)) -> [z_mean, z_log_var]."""
    encoder = model.get_layer("encoder")
    if not _num_classes(model):
        return encoder
    image = keras.Input(encoder.inputs[0].shape[1:], name="image")
    label = keras.Input((), dtype="int32", name="label")
    outputs = encoder([image, _one_hot(label, _num_classes(model))])
    return keras.Model([image, label], outputs, name="encoder_with_label")


def decoder_model(model, name="decoder_probs"):
    """The trained decoder for generation: z [B, latent_dim] (CVAE: (z, int32 label)) -> image
    probabilities in [0, 1]."""
    decoder, k = model.get_layer("decoder"), _num_classes(model)
    latent_dim = decoder.inputs[0].shape[-1] - k
    z = keras.Input((latent_dim,), name="z")
    if k:
        label = keras.Input((), dtype="int32", name="label")
        code = layers.Concatenate()([z, _one_hot(label, k)])
    logits = decoder(code if k else z)
    probs = layers.Activation("sigmoid", dtype="float32", name="probabilities")(logits)
    return keras.Model([z, label] if k else z, probs, name=name)


def export_decoder_model(model, name="decoder_export"):
    """One-input decoder for TFLite/SavedModel: code -> image probabilities, where code = z
    (vae, beta_vae) or concat(z, one_hot(label)) [B, latent_dim + num_classes] (cvae)."""
    decoder = model.get_layer("decoder")
    code = keras.Input(decoder.inputs[0].shape[1:], name="code")
    probs = layers.Activation("sigmoid", dtype="float32", name="probabilities")(decoder(code))
    return keras.Model(code, probs, name=name)


def negative_elbo(model, images, labels=None, samples: int = 1, batch_size: int = 500,
                  seed: int = 0) -> dict:
    """Monte-Carlo estimate of -ELBO per image (nats): mean reconstruction NLL over ``samples``
    reparameterised draws + closed-form KL. Returns per-image means of "recon", "kl" and
    "neg_elbo" (= recon + KL, beta not applied) and "bits_per_dim" = neg_elbo / (D ln 2)."""
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    k = _num_classes(model)
    loss = BernoulliReconstructionLoss(reduction=None)
    generator = keras.random.SeedGenerator(seed)
    recon, kl = [], []
    for start in range(0, len(images), batch_size):
        x = ops.convert_to_tensor(images[start:start + batch_size], "float32")
        if k:
            cond = ops.one_hot(ops.convert_to_tensor(labels[start:start + batch_size]), k)
            z_mean, z_log_var = encoder([x, cond], training=False)
        else:
            z_mean, z_log_var = encoder(x, training=False)
        nll = 0.0
        for _ in range(samples):
            z = gaussian_sample(z_mean, z_log_var, seed=generator)
            nll += loss(x, decoder(ops.concatenate([z, cond], -1) if k else z, training=False))
        recon.append(ops.convert_to_numpy(nll) / samples)
        kl.append(ops.convert_to_numpy(gaussian_kl(z_mean, z_log_var)))
    recon, kl = float(np.concatenate(recon).mean()), float(np.concatenate(kl).mean())
    dims = int(np.prod(images.shape[1:]))
    return {"recon": recon, "kl": kl, "neg_elbo": recon + kl,
            "bits_per_dim": float((recon + kl) / (dims * np.log(2.0)))}
