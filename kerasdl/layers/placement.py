"""Model parallelism by placement: run a layer (a stage of a model) on a chosen device.

``OnDevice(layer, "/CPU:1")`` builds the layer's variables on that device and runs its ops there,
so a model whose stages are wrapped this way is split across devices (TF copies the activations
between them). It is the layer-placement form of model parallelism; data parallelism is
``tf.distribute`` (see docs/distributed_training.md).
"""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kerasdl")
class OnDevice(keras.layers.Wrapper):
    """Place ``layer``'s variables and computation on ``device`` (e.g. "/CPU:1", "/GPU:0")."""

    def __init__(self, layer, device: str, **kwargs):
        super().__init__(layer, **kwargs)
        try:
            tf.DeviceSpec.from_string(device)
        except (ValueError, TypeError) as err:
            raise ValueError(f"OnDevice: {device!r} is not a device name like '/CPU:1': {err}") from None
        self.device = device

    def build(self, input_shape=None):
        if not self.layer.built:  # a loaded layer comes built, its variables already placed
            with tf.device(self.device):
                self.layer.build(input_shape)
        self.built = True

    def call(self, inputs, *args, **kwargs):
        with tf.device(self.device):
            return self.layer(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "device": self.device}

    @classmethod
    def from_config(cls, config):
        with tf.device(config["device"]):  # loading builds the wrapped layer: place it there
            return super().from_config(config)
