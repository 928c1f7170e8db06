"""Convolution building blocks."""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="kerasdl")
class ConvBNAct(keras.layers.Layer):
    """Conv2D (no bias) -> BatchNormalization -> activation: the standard conv unit.

    ``bn_momentum`` defaults to 0.9 (PyTorch's 0.1): with Keras' 0.99 the moving variance, which
    starts at 1, needs thousands of steps to reach the small variances of early conv features, and
    inference-mode accuracy lags far behind training for the first epochs.
    """

    def __init__(self, filters, kernel_size=3, strides=1, padding="same", activation="relu",
                 bn_momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
        self.padding, self.activation, self.bn_momentum = padding, activation, bn_momentum
        self.conv = keras.layers.Conv2D(filters, kernel_size, strides, padding, use_bias=False,
                                        dtype=self.dtype_policy, name="conv")
        self.bn = keras.layers.BatchNormalization(momentum=bn_momentum, dtype=self.dtype_policy,
                                                  name="bn")
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
                "strides": self.strides, "padding": self.padding, "activation": self.activation,
                "bn_momentum": self.bn_momentum}
