"""Convolutional autoencoders: ``autoencoder`` and ``denoising_autoencoder`` (reconstruction task).

Encoder: ``len(filters)`` stride-2 3x3 convs (ReLU) -> flatten -> dense ``hidden`` (ReLU) -> code.
Decoder (its mirror): dense -> reshape -> stride-2 3x3 transposed convs (ReLU) -> 3x3 conv to one
per-pixel Bernoulli LOGIT per channel. Both halves are nested ``keras.Model``s named "encoder" and
"decoder" inside the model, so they are reusable after training (``decoder_model`` below gives the
standalone code -> image-probability network). Image sides must be divisible by ``2**len(filters)``.

The denoising autoencoder (Vincent et al. 2008) is the same network with corruption applied to its
input in training only: additive Gaussian noise (``keras.layers.GaussianNoise``) or masking noise
(each pixel zeroed with probability ``noise``, kept pixels NOT rescaled, unlike ``Dropout``); the
target stays the clean image. Train with a sigmoid BCE on the logits (``vae.BernoulliReconstructionLoss``
sums it per image, in nats).
"""
from __future__ import annotations

import keras
from keras import layers, ops

from kerasdl.models.base import FunctionalModel, register_model

# The contract fits 16 uniform-noise images in 20 steps: only a wide, shallow net memorises them.
_SMALL = {"filters": (64,), "hidden": 0, "latent_dim": 128}


def _check_shape(image_shape, filters):
    factor = 2 ** len(filters)
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(f"image sides {image_shape[:2]} must be divisible by 2**len(filters)={factor}")


def conv_encoder(image_shape, filters, hidden, code_dims, extra_input_dim=0, bias_inits=None,
                 name="encoder"):
    """Nested encoder model: image (and an optional conditioning vector joined after flattening)
    -> one dense head per entry of ``code_dims`` (a VAE passes two: z_mean and z_log_var), with
    constant bias initial values ``bias_inits`` (default 0)."""
    image = keras.Input(image_shape, name="image")
    inputs = [image]
    x = image
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"conv{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    if extra_input_dim:
        condition = keras.Input((extra_input_dim,), name="condition")
        inputs.append(condition)
        x = layers.Concatenate(name="join_condition")([x, condition])
    if hidden:
        x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    bias_inits = bias_inits or [0.0] * len(code_dims)
    outputs = [layers.Dense(d, bias_initializer=keras.initializers.Constant(b), name=f"code{i}")(x)
               for i, (d, b) in enumerate(zip(code_dims, bias_inits))]
    return keras.Model(inputs if len(inputs) > 1 else image,
                       outputs if len(outputs) > 1 else outputs[0], name=name)


def conv_decoder(code_dim, image_shape, filters, hidden, name="decoder"):
    """Nested decoder model: code [B, code_dim] -> per-pixel logits [B, *image_shape]."""
    factor = 2 ** len(filters)
    h, w = image_shape[0] // factor, image_shape[1] // factor
    code = keras.Input((code_dim,), name="code")
    x = code
    if hidden:
        x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    x = layers.Dense(h * w * filters[-1], activation="relu", name="project")(x)
    x = layers.Reshape((h, w, filters[-1]), name="reshape")(x)
    for i, f in enumerate(reversed(filters)):
        x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu",
                                   name=f"deconv{i}")(x)
    logits = layers.Conv2D(image_shape[-1], 3, padding="same", name="logits")(x)
    return keras.Model(code, logits, name=name)


@keras.saving.register_keras_serializable(package="kerasdl")
class MaskingNoise(keras.layers.Layer):
    """Training only: zero each input element with probability ``rate`` (no rescaling)."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = float(rate), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0:
            return x
        keep = keras.random.uniform(ops.shape(x), seed=self.seed_generator) >= self.rate
        return x * ops.cast(keep, x.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _corrupt(image, noise_type, noise):
    if noise_type == "gaussian":
        return layers.GaussianNoise(noise, name="input_noise")(image)
    if noise_type == "masking":
        return MaskingNoise(noise, name="input_noise")(image)
    raise ValueError(f"noise_type must be 'gaussian' or 'masking', got {noise_type!r}")


@register_model("autoencoder", task="reconstruction", small=_SMALL, deployable=True,
                tags=("generative", "autoencoder"))
@register_model("denoising_autoencoder", task="reconstruction", deployable=True,
                defaults={"noise_type": "gaussian", "noise": 0.3},
                small={**_SMALL, "noise_type": "gaussian", "noise": 0.05},
                tags=("generative", "autoencoder"))
class Autoencoder(FunctionalModel):
    """Image in [0, 1] -> code [latent_dim] -> per-pixel logits; ``noise_type`` (None, "gaussian"
    or "masking") corrupts the input in training only (the denoising autoencoder)."""

    @staticmethod
    def build_graph(image_shape=(28, 28, 1), filters=(32, 64), hidden=256, latent_dim=32,
                    noise_type=None, noise=0.0):
        image_shape, filters = tuple(image_shape), tuple(filters)
        _check_shape(image_shape, filters)
        image = keras.Input(image_shape, name="image")
        x = _corrupt(image, noise_type, noise) if noise_type else image
        code = conv_encoder(image_shape, filters, hidden, [latent_dim])(x)
        logits = conv_decoder(latent_dim, image_shape, filters, hidden)(code)
        return image, logits


def decoder_model(model, probabilities: bool = True, name: str = "decoder_probs"):
    """The trained decoder alone: code [B, code_dim] -> image probabilities (sigmoid of the
    logits), or logits with ``probabilities=False``. Its layers are the model's (shared weights)."""
    decoder = model.get_layer("decoder")
    code = keras.Input(decoder.inputs[0].shape[1:], name="code")
    out = decoder(code)
    if probabilities:
        out = layers.Activation("sigmoid", dtype="float32", name="probabilities")(out)
    return keras.Model(code, out, name=name)
