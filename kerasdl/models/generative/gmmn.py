"""Generative moment-matching network (GMMN; Li, Swersky & Zemel, 2015): an MLP noise -> image.

The GMMN of the paper maps 10 uniform noise values through ReLU layers of 64, 256, 256 and 1024
units to sigmoid MNIST pixels and is trained to minimise the kernel MMD² between its samples and
the data (:mod:`kerasdl.metrics.mmd`, :class:`kerasdl.train.moment_matching.MomentMatchingTrainer`).
Here, as for kerasdl's other generators, the output is ``tanh`` (images in [-1, 1]) and the noise
is drawn from N(0, 1); the data must be scaled to [-1, 1] to match.
"""
from __future__ import annotations

import keras

from kerasdl.models.base import FunctionalModel, register_model


@register_model("gmmn_generator", task="generator", deployable=True, tags=("generative", "gmmn"),
                small={"noise_dim": 8, "hidden_units": (32, 64), "image_shape": (8, 8, 1)})
class GMMNGenerator(FunctionalModel):
    """Noise ``[B, noise_dim]`` -> ReLU dense layers ``hidden_units`` -> tanh image ``image_shape``."""

    @staticmethod
    def build_graph(noise_dim=10, hidden_units=(64, 256, 256, 1024), image_shape=(28, 28, 1)):
        noise = keras.Input((int(noise_dim),), name="noise")
        x = noise
        for i, units in enumerate(hidden_units):
            x = keras.layers.Dense(int(units), activation="relu", name=f"dense_{i + 1}")(x)
        size = 1
        for d in image_shape:
            size *= int(d)
        x = keras.layers.Dense(size, activation="tanh", name="pixels")(x)
        return noise, keras.layers.Reshape(tuple(image_shape), name="image")(x)
