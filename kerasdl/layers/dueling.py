"""The dueling aggregation of Wang et al. (2016): Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a').

Subtracting the mean advantage makes V and A identifiable (adding a constant to A and removing it
from V would otherwise leave Q unchanged). MEAN, ADD and SUB are TFLite built-ins.
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasdl")
class DuelingAggregation(keras.layers.Layer):
    """``[value [B, 1], advantage [B, A]] -> Q [B, A]``."""

    def call(self, inputs):
        value, advantage = inputs
        return value + advantage - ops.mean(advantage, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]
