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


@keras.saving.register_keras_serializable(package="kerasdl")
class GroupedConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D(groups=G)`` that is fast on CPU: same kernel, same outputs.

    TensorFlow has no CPU kernel for grouped convolution, so Keras compiles it with XLA there,
    which ran 20-135x slower per layer than this one on a 2-core CPU, and 13x slower on a
    ResNeXt train step (benchmarks/grouped_conv.py). On a CPU-only host this layer computes the
    grouped conv from ops that have fast CPU kernels instead:

    * few channels per group (``Cin/G <= 4``, ResNeXt's 32x4d): one depthwise conv with channel
      multiplier ``Cout/G`` whose kernel repeats each group's filters, then a sum over the
      ``Cin/G`` inputs of each group: the grouped conv's exact multiply-adds;
    * otherwise one conv per group on split channels, concatenated.

    With a GPU visible, or ``groups=1``, it is plain Conv2D. Weights load from and into Conv2D.
    """

    DEPTHWISE_MAX_GROUP_CHANNELS = 4

    def convolution_op(self, inputs, kernel):
        import tensorflow as tf

        if (self.groups == 1 or self.data_format != "channels_last"
                or tf.config.list_physical_devices("GPU")):
            return super().convolution_op(inputs, kernel)
        kh, kw, group_in, filters = kernel.shape
        group_out = filters // self.groups
        conv = {"strides": self.strides, "padding": self.padding,
                "dilation_rate": self.dilation_rate}
        if group_in > self.DEPTHWISE_MAX_GROUP_CHANNELS:
            pieces = zip(keras.ops.split(inputs, self.groups, axis=-1),
                         keras.ops.split(kernel, self.groups, axis=-1))
            return keras.ops.concatenate([keras.ops.conv(x, k, **conv) for x, k in pieces], axis=-1)
        # depthwise kernel [kh, kw, G*group_in, group_out]: input channel g*group_in + c uses
        # kernel[..., c, g*group_out:(g+1)*group_out]
        per_group = keras.ops.reshape(kernel, (kh, kw, group_in, self.groups, group_out))
        depthwise = keras.ops.reshape(keras.ops.transpose(per_group, (0, 1, 3, 2, 4)),
                                      (kh, kw, self.groups * group_in, group_out))
        y = keras.ops.depthwise_conv(inputs, depthwise, **conv)  # channels (G, group_in, group_out)
        _, height, width, _ = keras.ops.shape(y)
        y = keras.ops.reshape(y, (-1, height, width, self.groups, group_in, group_out))
        return keras.ops.reshape(keras.ops.sum(y, axis=4), (-1, height, width, filters))
