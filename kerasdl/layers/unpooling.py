"""SegNet's pooling indices and unpooling (Badrinarayanan et al. 2017): 2x2/2 max-pooling that
also returns, per output, which of its 4 window positions held the maximum; unpooling writes
each value back to that position and zeros elsewhere.

``tf.nn.max_pool_with_argmax`` + a scatter is the textbook way, but its op MaxPoolWithArgmax has
no XLA kernel and is not a TFLite built-in (the converter needs Flex). Here the window positions
are found with ``space_to_depth`` + ``argmax`` and written back with ``one_hot`` +
``depth_to_space``: the same indices (window-local instead of flat), built-in ops only.
"""
from __future__ import annotations

import keras
import tensorflow as tf


def _check_even(shape, name):
    if shape[1] is None or shape[2] is None or shape[1] % 2 or shape[2] % 2:
        raise ValueError(f"{name} needs even static height and width, got {tuple(shape[1:3])}")


@keras.saving.register_keras_serializable(package="kerasdl")
class MaxPoolingWithIndices(keras.layers.Layer):
    """[B, H, W, C] -> (pooled [B, H/2, W/2, C], indices int32 [B, H/2, W/2, C] in 0..3 =
    2·dy + dx of the window's maximum; the first maximum on ties)."""

    def call(self, x):
        _check_even(x.shape, type(self).__name__)
        h, w, c = x.shape[1] // 2, x.shape[2] // 2, x.shape[3]
        windows = tf.reshape(tf.nn.space_to_depth(x, 2), (-1, h, w, 4, c))  # channel = (dy, dx, c)
        return tf.reduce_max(windows, axis=3), tf.argmax(windows, axis=3, output_type=tf.int32)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, h // 2, w // 2, c), (b, h // 2, w // 2, c)


@keras.saving.register_keras_serializable(package="kerasdl")
class MaxUnpooling(keras.layers.Layer):
    """(values [B, h, w, C], indices [B, h, w, C]) -> [B, 2h, 2w, C]: each value at its index."""

    def call(self, inputs):
        values, indices = inputs
        h, w, c = values.shape[1], values.shape[2], values.shape[3]
        spread = tf.one_hot(tf.cast(indices, tf.int32), 4, axis=3, dtype=values.dtype) * tf.expand_dims(values, 3)
        return tf.nn.depth_to_space(tf.reshape(spread, (-1, h, w, 4 * c)), 2)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape[0]
        return (b, 2 * h, 2 * w, c)
