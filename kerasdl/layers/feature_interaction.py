"""Feature-interaction layers of CTR models: field embeddings, FM's and FFM's pairwise terms,
DCN's cross layer (v1; v2 is ``keras_rs.layers.FeatureCross``) and DIN's attention pooling.

Inputs follow libFM: ``feature_ids [B, F]`` (one global vocabulary, each field at an offset) and
``feature_values [B, F]`` (1 for a categorical field).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops


def _check_ids_values(ids_shape, values_shape):
    if len(ids_shape) != 2 or tuple(ids_shape) != tuple(values_shape):
        raise ValueError(f"feature_ids and feature_values must both be [B, F], got {ids_shape} "
                         f"and {values_shape}")


@keras.saving.register_keras_serializable(package="kerasdl")
class FieldEmbedding(keras.layers.Layer):
    """``(ids [B, F], values [B, F]) -> v_i x_i [B, F, dim]``: each feature's embedding scaled by
    its value (``dim=1`` gives FM's linear term w_i x_i)."""

    def __init__(self, vocab_size, dim, embeddings_initializer=None, **kwargs):
        super().__init__(**kwargs)
        if vocab_size < 1 or dim < 1:
            raise ValueError(f"vocab_size and dim must be >= 1, got {vocab_size}, {dim}")
        self.vocab_size, self.dim = int(vocab_size), int(dim)
        self.embeddings_initializer = embeddings_initializer or keras.initializers.RandomNormal(stddev=0.01)
        self.embedding = keras.layers.Embedding(self.vocab_size, self.dim, name="embedding",
                                                embeddings_initializer=self.embeddings_initializer)

    def build(self, shapes):
        _check_ids_values(*shapes)
        self.embedding.build(shapes[0])

    def call(self, inputs):
        ids, values = inputs
        return self.embedding(ids) * ops.expand_dims(ops.cast(values, self.compute_dtype), -1)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "dim": self.dim,
                "embeddings_initializer": keras.initializers.serialize(
                    keras.initializers.get(self.embeddings_initializer))}


@keras.saving.register_keras_serializable(package="kerasdl")
class FMInteraction(keras.layers.Layer):
    """FM's pairwise term (Rendle 2010, eq. 4 / lemma 3.1) in O(kn):

        Σ_{i<j} <v_i x_i, v_j x_j> = ½ Σ_f [(Σ_i v_if x_i)² − Σ_i v_if² x_i²]

    ``scaled embeddings [B, F, k] -> [B, 1]``."""

    def call(self, scaled):
        square_of_sum = ops.square(ops.sum(scaled, axis=1))
        sum_of_squares = ops.sum(ops.square(scaled), axis=1)
        return 0.5 * ops.sum(square_of_sum - sum_of_squares, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="kerasdl")
class FFMInteraction(keras.layers.Layer):
    """FFM's pairwise term (Juan et al. 2016): feature i keeps one vector per field,
    Σ_{i<j} <v_{i,f(j)}, v_{j,f(i)}> x_i x_j, field f(i) = column i.

    ``(ids [B, F], values [B, F]) -> [B, 1]``; the table holds ``vocab_size x F x k`` numbers.
    """

    def __init__(self, vocab_size, num_fields, dim, **kwargs):
        super().__init__(**kwargs)
        if min(vocab_size, num_fields, dim) < 1:
            raise ValueError(f"vocab_size, num_fields, dim must be >= 1, got "
                             f"{vocab_size}, {num_fields}, {dim}")
        self.vocab_size, self.num_fields, self.dim = int(vocab_size), int(num_fields), int(dim)
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.num_fields * self.dim, name="embedding",
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01))

    def _check(self, shapes):
        _check_ids_values(*shapes)
        if shapes[0][1] != self.num_fields:
            raise ValueError(f"expected {self.num_fields} fields, got inputs {tuple(shapes[0])}")

    def build(self, shapes):
        self._check(shapes)
        self.embedding.build(shapes[0])

    def call(self, inputs):
        ids, values = inputs
        self._check((ids.shape, values.shape))
        f, k = self.num_fields, self.dim
        v = ops.reshape(self.embedding(ids), (-1, f, f, k))  # [B, feature i, field j, k]
        v = v * ops.reshape(ops.cast(values, self.compute_dtype), (-1, f, 1, 1))
        pair = ops.sum(v * ops.transpose(v, (0, 2, 1, 3)), axis=-1)  # [i, j]: <v_i,f(j) x_i, v_j,f(i) x_j>
        upper = ops.convert_to_tensor(np.triu(np.ones((f, f)), 1), self.compute_dtype)
        return ops.sum(ops.reshape(pair * upper, (-1, f * f)), axis=-1, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "num_fields": self.num_fields, "dim": self.dim}


@keras.saving.register_keras_serializable(package="kerasdl")
class CrossLayer(keras.layers.Layer):
    """DCN's cross layer (Wang et al. 2017, eq. 3): ``x_{l+1} = x0 x_lᵀ w + b + x_l``, one weight
    vector w and bias b of the input width (the v2 matrix form is keras_rs' FeatureCross).
    ``(x0 [B, d], x_l [B, d]) -> [B, d]``."""

    def build(self, shapes):
        if tuple(shapes[0]) != tuple(shapes[1]) or len(shapes[0]) != 2:
            raise ValueError(f"x0 and x_l must both be [B, d], got {shapes[0]} and {shapes[1]}")
        d = shapes[0][-1]
        self.w = self.add_weight(name="w", shape=(d, 1), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(d,), initializer="zeros")

    def call(self, inputs):
        x0, x = inputs
        return x0 * ops.matmul(x, self.w) + self.b + x


@keras.saving.register_keras_serializable(package="kerasdl")
class AttentionPooling(keras.layers.Layer):
    """DIN's local activation unit (Zhou et al. 2018): a weight per behaviour from an MLP over
    [e_j, v_a, e_j − v_a, e_j ⊙ v_a]; the user vector is Σ_j w_j e_j over unpadded behaviours
    (no softmax, as in the paper, so the sum keeps the intensity of interest).

    ``(target [B, d], history [B, T, d], mask [B, T] of 0/1) -> [B, d]``."""

    def __init__(self, hidden_units=(36,), **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.mlp = [keras.layers.Dense(u, activation="sigmoid", name=f"dense_{i}")
                    for i, u in enumerate(self.hidden_units)]
        self.score = keras.layers.Dense(1, name="score")

    def build(self, shapes):
        target, history, mask = shapes
        if len(history) != 3 or tuple(mask) != tuple(history[:2]) or target[-1] != history[-1]:
            raise ValueError(f"need target [B, d], history [B, T, d], mask [B, T]; got "
                             f"{target}, {history}, {mask}")
        width = 4 * history[-1]
        for layer in self.mlp:
            layer.build((None, width))
            width = layer.units
        self.score.build((None, width))

    def call(self, inputs):
        target, history, mask = inputs
        steps = history.shape[1]
        query = ops.repeat(ops.expand_dims(target, 1), steps, axis=1)
        h = ops.concatenate([history, query, history - query, history * query], axis=-1)
        for layer in self.mlp:
            h = layer(h)
        weights = ops.squeeze(self.score(h), -1) * ops.cast(mask, h.dtype)  # [B, T]
        return ops.sum(history * ops.expand_dims(weights, -1), axis=1)

    def get_config(self):
        return {**super().get_config(), "hidden_units": list(self.hidden_units)}


@keras.saving.register_keras_serializable(package="kerasdl")
class GlobalBias(keras.layers.Layer):
    """``x + w0``: one trainable scalar (FM's w0), starting at ``initial``."""

    def __init__(self, initial=0.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = float(initial)

    def build(self, shape):
        self.bias = self.add_weight(name="bias", shape=(), initializer=keras.initializers.Constant(self.initial))

    def call(self, x):
        return x + self.bias

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}
