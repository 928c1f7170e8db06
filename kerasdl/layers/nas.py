"""The DARTS candidate operations and the mixed operation over them (Liu et al., 2019).

Every operation keeps the spatial size and the channel count (stride 1, "same" padding), so any
of them can sit on any edge of a cell:

==============  ==========================================================================
``none``        zero: the edge is absent (never built; it only takes part in the softmax)
``max_pool_3x3`` / ``avg_pool_3x3``  3×3 pooling, stride 1 (average over valid pixels only)
``skip_connect`` identity
``sep_conv_3x3`` / ``sep_conv_5x5``  (ReLU → depthwise k×k → pointwise 1×1 → BN) twice
``dil_conv_3x3`` ReLU → depthwise 3×3 with dilation 2 → pointwise 1×1 → BN (5×5 receptive field)
==============  ==========================================================================

All are Keras layers built from TFLite built-in ops. BN momentum is 0.9, as in ConvBNAct.
"""
from __future__ import annotations

import keras
import tensorflow as tf

OPERATIONS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
              "sep_conv_5x5", "dil_conv_3x3")
ZERO = "none"
BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="kerasdl")
class ReLUConvBN(keras.layers.Layer):
    """ReLU → Conv2D (no bias) → BN: DARTS' pre-processing (1×1) and reduction (3×3, stride 2)."""

    def __init__(self, filters, kernel_size=1, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
        self.conv = keras.layers.Conv2D(filters, kernel_size, strides, padding="same",
                                        use_bias=False, name="conv")
        self.bn = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="bn")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(self.conv.compute_output_shape(input_shape))

    def call(self, x, training=None):
        return self.bn(self.conv(tf.nn.relu(x)), training=training)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides}


@keras.saving.register_keras_serializable(package="kerasdl")
class ReLUSepConvBN(keras.layers.Layer):
    """``repeats`` × (ReLU → depthwise k×k (dilated) → pointwise 1×1 → BN), channels kept."""

    def __init__(self, filters, kernel_size=3, dilation_rate=1, repeats=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, kernel_size
        self.dilation_rate, self.repeats = dilation_rate, repeats
        self.units = [(keras.layers.DepthwiseConv2D(kernel_size, padding="same",
                                                    dilation_rate=dilation_rate, use_bias=False,
                                                    name=f"depthwise{i}"),
                       keras.layers.Conv2D(filters, 1, use_bias=False, name=f"pointwise{i}"),
                       keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i}"))
                      for i in range(repeats)]

    def build(self, input_shape):
        shape = input_shape
        for depthwise, pointwise, bn in self.units:
            depthwise.build(shape)
            pointwise.build(shape)
            shape = pointwise.compute_output_shape(shape)
            bn.build(shape)

    def call(self, x, training=None):
        for depthwise, pointwise, bn in self.units:
            x = bn(pointwise(depthwise(tf.nn.relu(x))), training=training)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "dilation_rate": self.dilation_rate, "repeats": self.repeats}


def make_operation(operation: str, filters: int, **layer_kwargs) -> keras.layers.Layer:
    """The layer of candidate ``operation`` for ``filters`` channels (not ``none``)."""
    if operation == "max_pool_3x3":
        return keras.layers.MaxPooling2D(3, 1, padding="same", **layer_kwargs)
    if operation == "avg_pool_3x3":
        return keras.layers.AveragePooling2D(3, 1, padding="same", **layer_kwargs)
    if operation == "skip_connect":
        return keras.layers.Identity(**layer_kwargs)
    if operation in ("sep_conv_3x3", "sep_conv_5x5"):
        return ReLUSepConvBN(filters, int(operation[-1]), repeats=2, **layer_kwargs)
    if operation == "dil_conv_3x3":
        return ReLUSepConvBN(filters, 3, dilation_rate=2, **layer_kwargs)
    if operation == ZERO:
        raise ValueError("the zero operation 'none' has no layer: it means the edge is absent")
    raise ValueError(f"unknown operation {operation!r}; choose from {', '.join(OPERATIONS)}")


class MixedOp(keras.layers.Layer):
    """All candidate operations of one edge.

    ``call(x, weights)``: DARTS' continuous relaxation, Σₖ wₖ·oₖ(x) for a weight per operation
    of ``operations`` (a softmax over the edge's α; the zero operation adds nothing).
    ``call(x, code=c)``: only operation ``operations[c]`` runs (``tf.switch_case``; code 0, the
    zero operation, gives zeros) — one path of a one-shot supernet, at one path's cost.
    """

    def __init__(self, filters, operations=OPERATIONS, **kwargs):
        super().__init__(**kwargs)
        if not operations or operations[0] != ZERO:
            raise ValueError(f"operations must start with {ZERO!r} (code 0 = no edge), got "
                             f"{operations}")
        self.filters, self.operations = filters, tuple(operations)
        self.ops = [make_operation(op, filters, name=op) for op in self.operations[1:]]

    def build(self, input_shape):
        for op in self.ops:
            op.build(input_shape)

    def call(self, x, weights=None, code=None, training=None):
        if (weights is None) == (code is None):
            raise ValueError("MixedOp takes either weights (DARTS) or a code (one path)")
        if weights is not None:
            return tf.add_n([weights[k + 1] * op(x, training=training)
                             for k, op in enumerate(self.ops)])
        branches = [lambda: tf.zeros_like(x)] + [
            (lambda op=op: op(x, training=training)) for op in self.ops]
        return tf.switch_case(tf.cast(code, tf.int32), branches)

    def compute_output_shape(self, input_shape):
        return input_shape
