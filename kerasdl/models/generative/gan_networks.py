"""GAN generators and discriminators for 28x28x1 images (Fashion-MNIST, MNIST).

Generators map noise ``z ~ N(0, I)`` [B, latent_dim] (+ an int32 class label [B]) to tanh images
[B, 28, 28, 1] in [-1, 1]; discriminators map an image (+ label) to one unbounded logit / critic
score [B, 1] (the objective in ``kerasdl.train.adversarial`` decides how it is read). Model
contract tasks "generator" and "discriminator".

- ``mlp_generator`` / ``mlp_discriminator``: the fully connected networks of the original GAN
  (Goodfellow et al. 2014; LeakyReLU instead of maxout).
- ``dcgan_generator`` / ``dcgan_discriminator`` (Radford et al. 2016): project-and-reshape to
  7x7, stride-2 transposed convs with BN + ReLU up to 28x28, tanh; the discriminator mirrors it
  with stride-2 convs + LeakyReLU(0.2), no norm on its first layer. ``normalization`` picks the
  discriminator's norm: "batch" (DCGAN), "layer" or "none" (WGAN-GP critics: the gradient
  penalty is per sample, and batch norm couples samples), "spectral" (SNGAN, Miyato et al.
  2018: every conv/dense wrapped in ``keras.layers.SpectralNormalization``, 1 power iteration per
  training call).
- ``sagan_generator`` / ``sagan_discriminator`` (Zhang et al. 2019): the DCGAN networks with
  :class:`~kerasdl.layers.gan.SelfAttention2D` at 14x14 and spectral norm in both networks.
- ``cdcgan_generator`` / ``cdcgan_discriminator``: class-conditional DCGAN (Mirza & Osindero
  2014): the generator concatenates a learned label embedding to ``z``; the discriminator is a
  projection discriminator (Miyato & Koyama 2018): ``D(x, y) = w·h(x) + <embed(y), h(x)>``.
- ``minibatch_discrimination=K`` on any discriminator appends K
  :class:`~kerasdl.layers.gan.MinibatchDiscrimination` features before the last dense layer.

The curriculum writes the generator's objective as ``min_G log D(G(z))``; minimax GAN
*minimises* ``log(1 - D(G(z)))`` and the non-saturating variant *maximises* ``log D(G(z))``
(see ``kerasdl.train.adversarial``).
"""
from __future__ import annotations

import keras

from kerasdl.layers.gan import MinibatchDiscrimination, SelfAttention2D
from kerasdl.models.base import FunctionalModel, register_model

IMAGE_SHAPE = (28, 28, 1)
NORMALIZATIONS = ("batch", "layer", "none", "spectral")
_TAGS = ("generative", "gan", "image")
_SMALL_G = {"latent_dim": 8, "filters": 8}
_SMALL_D = {"filters": 8}


# ------------------------------------------------------------------------------ building blocks
def _sn(layer, spectral: bool):
    return keras.layers.SpectralNormalization(layer, name=f"sn_{layer.name}") if spectral else layer


def _norm(kind: str, name: str):
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "layer":
        return keras.layers.LayerNormalization(axis=(-3, -2, -1), name=name)
    return None  # "none" and "spectral" (the weights are normalised instead)


def _check(normalization=None, minibatch=0, num_classes=None):
    if normalization is not None and normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if int(minibatch) < 0:
        raise ValueError(f"minibatch_discrimination must be >= 0, got {minibatch}")
    if num_classes is not None and int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")


def _generator_inputs(latent_dim, num_classes=None, embed_dim=0):
    """Noise input, optional int32 label input, and the vector the generator starts from."""
    noise = keras.Input((int(latent_dim),), name="noise")
    if num_classes is None:
        return noise, noise
    label = keras.Input((), dtype="int32", name="label")
    embedded = keras.layers.Embedding(num_classes, embed_dim, name="label_embedding")(label)
    return [noise, label], keras.layers.Concatenate(name="noise_and_label")([noise, embedded])


def _conv_generator(h, filters, attention=False, spectral=False):
    """Project to 7x7x2F, BN-ReLU transposed convs to 14x14xF (+ self-attention), tanh 28x28x1."""
    h = _sn(keras.layers.Dense(7 * 7 * 2 * filters, use_bias=False, name="project"), spectral)(h)
    h = keras.layers.Reshape((7, 7, 2 * filters), name="to_7x7")(h)
    h = keras.layers.ReLU(name="project_relu")(keras.layers.BatchNormalization(name="project_bn")(h))
    h = _sn(keras.layers.Conv2DTranspose(filters, 4, 2, "same", use_bias=False, name="up14"),
            spectral)(h)
    h = keras.layers.ReLU(name="up14_relu")(keras.layers.BatchNormalization(name="up14_bn")(h))
    if attention:
        h = SelfAttention2D(spectral_norm=spectral, name="attention14")(h)
    h = _sn(keras.layers.Conv2DTranspose(1, 4, 2, "same", name="up28"), spectral)(h)
    return keras.layers.Activation("tanh", name="image", dtype="float32")(h)


def _conv_features(image, filters, normalization, attention=False):
    """Stride-2 convs 28 -> 14 (+ self-attention) -> 7, LeakyReLU(0.2); flat features."""
    spectral = normalization == "spectral"
    h = _sn(keras.layers.Conv2D(filters, 4, 2, "same", name="down14"), spectral)(image)
    h = keras.layers.LeakyReLU(0.2, name="down14_act")(h)
    if attention:
        h = SelfAttention2D(spectral_norm=spectral, name="attention14")(h)
    h = _sn(keras.layers.Conv2D(2 * filters, 4, 2, "same", name="down7"), spectral)(h)
    norm = _norm(normalization, "down7_norm")
    h = norm(h) if norm is not None else h
    h = keras.layers.LeakyReLU(0.2, name="down7_act")(h)
    return keras.layers.Flatten(name="features")(h)


def _discriminator_head(features, spectral, minibatch=0, label=None, num_classes=None):
    """[minibatch features] -> Dense(1) score; with a label, + the projection <embed(y), h>."""
    if minibatch:
        features = MinibatchDiscrimination(minibatch, name="minibatch")(features)
    score = _sn(keras.layers.Dense(1, name="score_dense"), spectral)(features)
    if label is not None:
        # No spectral norm here: Keras' SpectralNormalization casts outputs to the input dtype,
        # so wrapping an Embedding (int32 ids in) returns int32 and cuts the gradient.
        embedded = keras.layers.Embedding(num_classes, features.shape[-1],
                                          name="label_projection")(label)
        projection = keras.layers.Dot(axes=1, name="projection")([embedded, features])
        score = keras.layers.Add(name="projected_score")([score, projection])
    return keras.layers.Activation("linear", name="score", dtype="float32")(score)


def _image_input():
    return keras.Input(IMAGE_SHAPE, name="image")


# --------------------------------------------------------------------------------- MLP (2014)
@register_model("mlp_generator", tags=_TAGS, task="generator", deployable=True,
                small={"latent_dim": 8, "hidden_units": (16, 32)})
class MLPGenerator(FunctionalModel):
    """z -> Dense-LeakyReLU layers -> Dense(784, tanh) -> 28x28x1."""

    @staticmethod
    def build_graph(latent_dim=100, hidden_units=(256, 512, 1024)):
        inputs, h = _generator_inputs(latent_dim)
        for i, units in enumerate(hidden_units):
            h = keras.layers.Dense(units, name=f"dense{i}")(h)
            h = keras.layers.LeakyReLU(0.2, name=f"act{i}")(h)
        h = keras.layers.Dense(28 * 28, activation="tanh", name="pixels", dtype="float32")(h)
        return inputs, keras.layers.Reshape(IMAGE_SHAPE, name="image", dtype="float32")(h)


@register_model("mlp_discriminator", tags=_TAGS, task="discriminator",
                small={"hidden_units": (32, 16)})
class MLPDiscriminator(FunctionalModel):
    """28x28x1 -> Dense-LeakyReLU layers -> one logit."""

    @staticmethod
    def build_graph(hidden_units=(512, 256), minibatch_discrimination=0):
        _check(minibatch=minibatch_discrimination)
        image = _image_input()
        h = keras.layers.Flatten(name="flatten")(image)
        for i, units in enumerate(hidden_units):
            h = keras.layers.LeakyReLU(0.2, name=f"act{i}")(keras.layers.Dense(units, name=f"dense{i}")(h))
        return image, _discriminator_head(h, False, minibatch_discrimination)


# -------------------------------------------------------------------- DCGAN / SNGAN / SAGAN
@register_model("dcgan_generator", tags=_TAGS, task="generator", deployable=True, small=_SMALL_G)
class DCGANGenerator(FunctionalModel):
    """DCGAN generator: z -> 7x7x2F -> 14x14xF -> 28x28x1 (tanh)."""

    @staticmethod
    def build_graph(latent_dim=100, filters=64):
        inputs, h = _generator_inputs(latent_dim)
        return inputs, _conv_generator(h, filters)


@register_model("dcgan_discriminator", tags=_TAGS, task="discriminator",
                small={**_SMALL_D, "minibatch_discrimination": 4})
class DCGANDiscriminator(FunctionalModel):
    """DCGAN discriminator / WGAN critic / SNGAN discriminator (``normalization``)."""

    @staticmethod
    def build_graph(filters=64, normalization="batch", minibatch_discrimination=0):
        _check(normalization, minibatch_discrimination)
        image = _image_input()
        features = _conv_features(image, filters, normalization)
        return image, _discriminator_head(features, normalization == "spectral",
                                          minibatch_discrimination)


@register_model("sagan_generator", tags=_TAGS, task="generator", deployable=True, small=_SMALL_G)
class SAGANGenerator(FunctionalModel):
    """DCGAN generator + self-attention at 14x14, spectral norm on every layer."""

    @staticmethod
    def build_graph(latent_dim=100, filters=64):
        inputs, h = _generator_inputs(latent_dim)
        return inputs, _conv_generator(h, filters, attention=True, spectral=True)


@register_model("sagan_discriminator", tags=_TAGS, task="discriminator", small=_SMALL_D)
class SAGANDiscriminator(FunctionalModel):
    """Spectral-norm DCGAN discriminator + self-attention at 14x14."""

    @staticmethod
    def build_graph(filters=64, minibatch_discrimination=0):
        _check(minibatch=minibatch_discrimination)
        image = _image_input()
        features = _conv_features(image, filters, "spectral", attention=True)
        return image, _discriminator_head(features, True, minibatch_discrimination)


# ------------------------------------------------------------------------------ conditional
@register_model("cdcgan_generator", tags=(*_TAGS, "conditional"), task="generator",
                small={**_SMALL_G, "num_classes": 3, "embed_dim": 4})
class ConditionalDCGANGenerator(FunctionalModel):
    """(z, label) -> DCGAN generator on ``concat(z, embed(label))``. Two inputs, so not
    TFLite-packaged by ``kerasdl.export`` (single-input only)."""

    @staticmethod
    def build_graph(latent_dim=100, filters=64, num_classes=10, embed_dim=16):
        _check(num_classes=num_classes)
        inputs, h = _generator_inputs(latent_dim, num_classes, embed_dim)
        return inputs, _conv_generator(h, filters)


@register_model("cdcgan_discriminator", tags=(*_TAGS, "conditional"), task="discriminator",
                small={**_SMALL_D, "num_classes": 3})
class ConditionalDCGANDiscriminator(FunctionalModel):
    """(image, label) -> projection discriminator score."""

    @staticmethod
    def build_graph(filters=64, num_classes=10, normalization="spectral",
                    minibatch_discrimination=0):
        _check(normalization, minibatch_discrimination, num_classes)
        image, label = _image_input(), keras.Input((), dtype="int32", name="label")
        features = _conv_features(image, filters, normalization)
        return [image, label], _discriminator_head(features, normalization == "spectral",
                                                   minibatch_discrimination, label, num_classes)


__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator",
           "SAGANGenerator", "SAGANDiscriminator", "ConditionalDCGANGenerator",
           "ConditionalDCGANDiscriminator"]
