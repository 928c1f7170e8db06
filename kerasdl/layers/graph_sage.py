"""GraphSAGE (Hamilton et al., 2017) on edge lists; conventions in :mod:`kerasdl.layers.graph`.

``h_N(i) = aggregate({x_j : j in N(i)})`` and ``y_i = act([x_i || h_N(i)] W + b)``, optionally
L2-normalised (the paper's Algorithm 1). The curriculum writes ``concat(h_i, h_N_i)``: the first
part is the node's own input state ``x_i``. Aggregators:

- ``mean``: the mean of the neighbours' states (0 without neighbours);
- ``max`` (the paper's pooling aggregator): ``max_j act(W_pool x_j + b_pool)`` element-wise;
- ``lstm``: an LSTM over the neighbours' states, its last output. The paper feeds a random
  permutation of the neighbours; here they come in edge-list order (stable sort by target), which
  :class:`kerasdl.graph.NeighborSampler` makes random. At most ``max_neighbors`` are read per node.

Mini-batches on large graphs come from :class:`kerasdl.graph.NeighborSampler`.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.layers.graph import _LinearMessagePassing, scatter

AGGREGATORS = ("mean", "max", "lstm")


@keras.saving.register_keras_serializable(package="kerasdl")
class SAGEConv(_LinearMessagePassing):
    """``aggregator`` in ``AGGREGATORS``; ``aggregator_units`` is the pooling layer's (max) or the
    LSTM's (lstm) width, default the input width."""

    def __init__(self, units, aggregator="mean", aggregator_units=None, max_neighbors=25,
                 normalize=False, **kwargs):
        super().__init__(units, **kwargs)
        if aggregator not in AGGREGATORS:
            raise ValueError(f"unknown aggregator {aggregator!r}; valid: {', '.join(AGGREGATORS)}")
        if int(max_neighbors) < 1:
            raise ValueError(f"max_neighbors must be positive, got {max_neighbors}")
        self.aggregator, self.normalize = aggregator, bool(normalize)
        self.aggregator_units = None if aggregator_units is None else int(aggregator_units)
        self.max_neighbors = int(max_neighbors)

    def build(self, x_shape, edges_shape=None):
        width = x_shape[-1]
        agg_width = self.aggregator_units or width
        if self.aggregator == "max":
            self.pool = keras.layers.Dense(agg_width, activation="relu", name="pool")
            self.pool.build((None, width))
        elif self.aggregator == "lstm":
            self.lstm = keras.layers.LSTM(agg_width, unroll=True, name="lstm")  # TFLite: no WHILE
            self.lstm.build((None, self.max_neighbors, width))
        else:
            agg_width = width
        self.kernel = self._dense_weights(width + agg_width, self.units)
        self._build_bias()

    def _neighbour_sequences(self, x, source, target, num_nodes):
        """``([N, max_neighbors, F] states of each node's in-neighbours, [N, max_neighbors] mask)``."""
        positions = tf.range(tf.shape(target)[0])
        order = tf.argsort(target, stable=True)
        sorted_target = tf.gather(target, order)
        first = tf.math.unsorted_segment_min(positions, sorted_target, num_nodes + 1)
        slot = positions - tf.gather(first, sorted_target)
        keep = (slot < self.max_neighbors) & (sorted_target < num_nodes)
        index = tf.stack([tf.where(keep, sorted_target, num_nodes),
                          tf.where(keep, slot, tf.zeros_like(slot))], 1)
        size = [num_nodes + 1, self.max_neighbors]
        states = tf.scatter_nd(index, tf.gather(x, tf.gather(source, order)), size + [x.shape[-1]])
        mask = tf.scatter_nd(index, tf.cast(keep, x.dtype), size)
        return states[:num_nodes], mask[:num_nodes] > 0

    def aggregate(self, x, source, target, num_nodes):
        if self.aggregator == "mean":
            return scatter(tf.gather(x, source), target, num_nodes, "mean")
        if self.aggregator == "max":
            return scatter(tf.gather(self.pool(x), source), target, num_nodes, "max")
        states, mask = self._neighbour_sequences(x, source, target, num_nodes)
        return self.lstm(states, mask=mask)

    def propagate(self, x, source, target, num_nodes, training=None):
        neighbours = self.aggregate(x, source, target, num_nodes)
        out = self._finish(tf.matmul(tf.concat([x, neighbours], -1), self.kernel))
        return tf.math.l2_normalize(out, axis=-1) if self.normalize else out

    def get_config(self):
        return {**super().get_config(), "aggregator": self.aggregator,
                "aggregator_units": self.aggregator_units, "max_neighbors": self.max_neighbors,
                "normalize": self.normalize}
