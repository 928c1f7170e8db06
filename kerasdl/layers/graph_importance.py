"""PinSage's convolution (Ying et al. 2018, Algorithm 1, CONVOLVE) with importance pooling:

    n_u = Σ_{v ∈ N(u)} α_v ReLU(Q h_v + q)          (α: normalised random-walk visit counts)
    z_u = ReLU(W [h_u ; n_u] + w),   z_u <- z_u / ||z_u||_2

The neighbourhood N(u) and the weights α come from :mod:`kerasdl.data.random_walks` (the top-T
most visited nodes of walks with restart from u); the caller gathers the neighbours' vectors.
"""
from __future__ import annotations

import keras
from keras import ops


def l2_normalize(x, epsilon=1e-12):
    """x / max(||x||_2, sqrt(epsilon)) along the last axis (TFLite built-ins only).

    The squared norm is a matmul with a ones vector, not ``sum(square(x))``: the TFLite converter
    (TF 2.21) constant-folds the latter wrongly (values ~1e11) when it folds an input-independent
    [>= 100, D] table, e.g. PinSage's item tower; the contract's 120-item pinsage build checks it.
    """
    squared_norm = ops.matmul(ops.square(x), ops.ones((x.shape[-1], 1), x.dtype))
    return x / ops.sqrt(ops.maximum(squared_norm, epsilon))


@keras.saving.register_keras_serializable(package="kerasdl")
class ImportancePoolingConv(keras.layers.Layer):
    """``call([h_self [N, D], h_neighbors [N, T, D'], weights [N, T]]) -> z [N, units]``.

    ``weights`` of a row should sum to 1 (a weighted mean, the paper's importance pooling); a row
    of zeros (no neighbours) pools to 0. ``normalize`` applies the L2 normalisation of z.
    """

    def __init__(self, units, hidden_units=None, normalize=True, **kwargs):
        super().__init__(**kwargs)
        if units < 1 or (hidden_units is not None and hidden_units < 1):
            raise ValueError(f"units and hidden_units must be >= 1, got {units}, {hidden_units}")
        self.units, self.hidden_units, self.normalize = int(units), hidden_units, bool(normalize)
        self.neighbor_dense = keras.layers.Dense(hidden_units or units, activation="relu", name="Q")
        self.combine_dense = keras.layers.Dense(units, activation="relu", name="W")

    def build(self, input_shape):
        self_shape, neighbor_shape, _ = input_shape
        self.neighbor_dense.build(neighbor_shape)
        hidden = self.hidden_units or self.units
        self.combine_dense.build((self_shape[0], self_shape[-1] + hidden))

    def call(self, inputs):
        h_self, h_neighbors, weights = inputs
        messages = self.neighbor_dense(h_neighbors)
        pooled = ops.sum(messages * ops.expand_dims(ops.cast(weights, messages.dtype), -1), axis=1)
        z = self.combine_dense(ops.concatenate([h_self, pooled], axis=-1))
        return l2_normalize(z) if self.normalize else z

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "hidden_units": self.hidden_units,
                "normalize": self.normalize}
