"""Convolution building blocks."""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="kerasdl")
class ConvBNAct(keras.layers.Layer):
    """Conv2D (no bias) -> BatchNormalization -> activation: the standard conv unit."""

    def __init__(self, filters, kernel_size=3, strides=1, padding="same", activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
        self.padding, self.activation = padding, activation
        self.conv = keras.layers.Conv2D(filters, kernel_size, strides, padding, use_bias=False,
                                        dtype=self.dtype_policy, name="conv")
        self.bn = keras.layers.BatchNormalization(dtype=self.dtype_policy, name="bn")
        self.act = keras.layers.Activation(activation, dtype=self.dtype_policy, name="act")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(self.conv.compute_output_shape(input_shape))
        self.built = True

    def call(self, x, training=None):
        return self.act(self.bn(self.conv(x), training=training))

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "activation": self.activation}
