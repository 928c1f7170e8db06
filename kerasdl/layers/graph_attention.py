"""Graph attention (Velickovic et al., 2018) on edge lists; conventions in :mod:`kerasdl.layers.graph`.

Head ``m`` scores each edge ``j -> i`` with ``e_ij = LeakyReLU(a_m^T [W_m x_i || W_m x_j])``
(slope 0.2), normalises the scores over ``i``'s neighbours ``N_i`` (``i`` itself included: a
self-loop is added) with a softmax, ``alpha_ij = softmax_j(e_ij)``, and sums ``alpha_ij W_m x_j``.
Hidden layers concatenate the ``M`` heads; an output layer averages them,
``y_i = act(1/M sum_m sum_j alpha_ij^(m) x_j W^(m))`` — the curriculum's formula, which is the
paper's output-layer (mean) form. ``a^T [z_i || z_j]`` is computed as ``a_dst^T z_i + a_src^T z_j``
(one score per node and head, then one gather per edge).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.layers.graph import (_LinearMessagePassing, edge_index, gather_targets, scatter,
                                  segment_softmax)


@keras.saving.register_keras_serializable(package="kerasdl")
class GATConv(_LinearMessagePassing):
    """``heads`` attention heads of ``units`` each; ``concat_heads`` gives ``[N, heads * units]``,
    else their mean ``[N, units]``. ``attention_dropout`` drops attention weights in training
    (the paper: 0.6)."""

    def __init__(self, units, heads=1, concat_heads=True, negative_slope=0.2,
                 attention_dropout=0.0, add_self_loops=True, **kwargs):
        super().__init__(units, **kwargs)
        if int(heads) < 1 or not 0.0 <= float(attention_dropout) < 1.0:
            raise ValueError(f"need heads >= 1 and 0 <= attention_dropout < 1, got {heads}, "
                             f"{attention_dropout}")
        self.heads, self.concat_heads = int(heads), bool(concat_heads)
        self.negative_slope, self.attention_dropout = float(negative_slope), float(attention_dropout)
        self.add_self_loops = bool(add_self_loops)
        self.dropout = keras.layers.Dropout(self.attention_dropout)

    @property
    def output_units(self) -> int:
        return self.units * self.heads if self.concat_heads else self.units

    def build(self, x_shape, edges_shape=None):
        self.kernel = self._dense_weights(x_shape[-1], self.heads * self.units)
        init = self.kernel_initializer
        self.attention_source = self.add_weight(name="attention_source", initializer=init,
                                                shape=(self.heads, self.units))
        self.attention_target = self.add_weight(name="attention_target", initializer=init,
                                                shape=(self.heads, self.units))
        self._build_bias()

    def _attention(self, x, source, target, num_nodes):
        """Per-head states ``z [N, H, C]``, the edge ids with self-loops appended, and the
        attention weights ``alpha [E', H]``."""
        z = tf.reshape(tf.matmul(x, self.kernel), [-1, self.heads, self.units])
        if self.add_self_loops:
            nodes = tf.range(num_nodes)
            source, target = tf.concat([source, nodes], 0), tf.concat([target, nodes], 0)
        score_source = tf.reduce_sum(z * self.attention_source, -1)  # [N, H]
        score_target = tf.reduce_sum(z * self.attention_target, -1)
        scores = tf.nn.leaky_relu(tf.gather(score_source, source)
                                  + gather_targets(score_target, target, num_nodes),
                                  alpha=self.negative_slope)  # [E', H]
        return z, source, target, segment_softmax(scores, target, num_nodes)

    def propagate(self, x, source, target, num_nodes, training=None):
        z, source, target, alpha = self._attention(x, source, target, num_nodes)
        alpha = self.dropout(alpha, training=training)
        out = scatter(tf.gather(z, source) * tf.expand_dims(alpha, -1), target, num_nodes)
        out = tf.reshape(out, [-1, self.heads * self.units]) if self.concat_heads \
            else tf.reduce_mean(out, axis=1)
        return self._finish(out)

    def attention_weights(self, x, edges):
        """``(source, target, alpha [E', heads])`` of one graph ``x [N, F]``, ``edges [E, 2]``
        (self-loops appended after the edges; padding rows have target ``N``)."""
        num_nodes = tf.shape(x)[0]
        source, target = edge_index(tf.cast(edges, tf.int32), num_nodes)
        _, source, target, alpha = self._attention(x, source, target, num_nodes)
        return source, target, alpha

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "concat_heads": self.concat_heads,
                "negative_slope": self.negative_slope, "attention_dropout": self.attention_dropout,
                "add_self_loops": self.add_self_loops}
