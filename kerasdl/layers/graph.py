"""Message passing on edge lists: the conventions of every kerasdl graph layer, and GCN, ChebNet,
GIN layers and graph readouts.

**Edge lists.** A graph of ``N`` nodes is node states ``x [N, F]`` and an edge list
``edges [E, 2]`` int32 of ``(source, target)`` rows with node ids in ``[0, N)``. Messages flow
source -> target: a layer updates node ``t`` from the nodes ``s`` of its rows ``(s, t)`` (its
in-neighbours). An undirected graph lists each edge in both directions
(:func:`kerasdl.graph.to_undirected`). Self-loops are not listed: the layers that need them (GCN's
``A + I``, GAT's attention of a node to itself) add them. A row with a negative entry is padding
and is ignored, so edge lists can be padded with ``-1`` rows to a fixed length. Node ids are not
range-checked here (``tf.gather`` fails on them on CPU, clamps under XLA): check them with
:func:`kerasdl.graph.check_edges` when the data is built.

**Batches.** Every layer also takes a padded batch of graphs, ``x [B, N, F]`` and
``edges [B, E, 2]`` with node ids local to each graph (:func:`kerasdl.graph.pad_graphs`). The batch
is run as one disjoint graph of ``B * N`` nodes (node ``i`` of graph ``b`` is node ``b * N + i``,
PyG/Spektral's "disjoint mode") and the result is returned as ``[B, N, F']``. Padded nodes have no
edges; node classifiers leave them out of the loss, readouts leave them out through ``node_mask``.

**Aggregation** is ``tf.gather`` of source states and ``tf.math.unsorted_segment_sum``/``_max``
over the targets into ``N + 1`` segments (the last one takes the padding rows and is dropped).
Memory is ``O((N + E) F)``, so graphs of 10^5+ edges fit; XLA compiles these ops and TFLite has
them as built-ins (GATHER, UNSORTED_SEGMENT_SUM, UNSORTED_SEGMENT_MAX).

GAT is in :mod:`kerasdl.layers.graph_attention`, GraphSAGE in :mod:`kerasdl.layers.graph_sage`.
"""
from __future__ import annotations

import keras
import tensorflow as tf

POOL_MODES = ("sum", "mean", "max")


# ----------------------------------------------------------------------------- primitives
def flatten_batch(x, edges):
    """A padded batch ``x [B, N, F]``, ``edges [B, E, 2]`` as one disjoint graph
    ``([B*N, F], [B*E, 2])``, plus ``(B, N)`` to restore the batch."""
    shape = tf.shape(x)
    batch, nodes = shape[0], shape[1]
    offsets = tf.reshape(tf.range(batch) * nodes, [-1, 1, 1])
    flat_edges = tf.where(edges >= 0, edges + offsets, -tf.ones_like(edges))
    return tf.reshape(x, [batch * nodes, x.shape[-1]]), tf.reshape(flat_edges, [-1, 2]), (batch, nodes)


def edge_index(edges, num_nodes):
    """``(source, target)`` id vectors; padding rows get source 0 and target ``num_nodes`` (the
    extra segment that :func:`scatter` drops)."""
    valid = tf.reduce_all(edges >= 0, axis=-1)
    source, target = tf.unstack(edges, axis=-1)
    return tf.where(valid, source, 0), tf.where(valid, target, num_nodes)


def scatter(values, target, num_nodes, reduce="sum"):
    """Sum, mean or max (``reduce``, one of ``POOL_MODES``) of edge ``values [E, ...]`` per target
    node: ``[num_nodes, ...]``; a node without in-edges gets 0."""
    if reduce not in POOL_MODES:
        raise ValueError(f"reduce must be one of {', '.join(POOL_MODES)}, got {reduce!r}")
    if reduce == "sum":
        return tf.math.unsorted_segment_sum(values, target, num_nodes + 1)[:num_nodes]
    counts = tf.reshape(in_degree(target, num_nodes, values.dtype),
                        [-1] + [1] * (values.shape.rank - 1))
    if reduce == "mean":
        return scatter(values, target, num_nodes) / tf.maximum(counts, tf.ones_like(counts))
    largest = tf.math.unsorted_segment_max(values, target, num_nodes + 1)[:num_nodes]
    return tf.where(counts > 0, largest, tf.zeros_like(largest))


def in_degree(target, num_nodes, dtype="float32"):
    """Number of (non-padding) edges into each node, ``[num_nodes]``."""
    return scatter(tf.ones_like(target, dtype=dtype), target, num_nodes)


def gather_targets(values, target, num_nodes):
    """``values[target]`` per edge; padding rows (target ``num_nodes``) read node ``N - 1``, a value
    that only ever reaches the dropped segment."""
    return tf.gather(values, tf.minimum(target, num_nodes - 1))


def segment_softmax(scores, target, num_nodes):
    """Softmax of edge ``scores [E, H]`` over the edges into each target node (max-shifted)."""
    segments = num_nodes + 1
    shifted = scores - tf.gather(tf.math.unsorted_segment_max(scores, target, segments), target)
    weights = tf.exp(shifted)
    return weights / tf.gather(tf.math.unsorted_segment_sum(weights, target, segments), target)


def segment_pool(x, graph_index, num_graphs, mode="sum"):
    """Readout of node states ``x [N, F]`` per graph: ``[num_graphs, F]``; nodes with a negative
    ``graph_index`` (padding) are left out; an empty graph reads 0."""
    if mode not in POOL_MODES:
        raise ValueError(f"unknown pooling {mode!r}; valid modes: {', '.join(POOL_MODES)}")
    return scatter(x, tf.where(graph_index >= 0, graph_index, num_graphs), num_graphs, mode)


# ----------------------------------------------------------------------------- layers
class MessagePassing(keras.layers.Layer):
    """Base of the graph layers: ``layer(x, edges)`` on one graph (``[N, F]``, ``[E, 2]``) or a
    padded batch (``[B, N, F]``, ``[B, E, 2]``). Subclasses write
    ``propagate(x, source, target, num_nodes, training)`` on one (disjoint) graph; those that
    need to know the real nodes (``uses_node_mask``) also take ``node_mask=`` (``[N]``/``[B, N]``)."""

    units: int
    uses_node_mask = False

    def call(self, x, edges, node_mask=None, training=None):
        if edges.shape.rank != x.shape.rank or edges.shape[-1] != 2 or x.shape.rank not in (2, 3):
            raise ValueError(f"{type(self).__name__} takes x [N, F] with edges [E, 2], or a batch "
                             f"x [B, N, F] with edges [B, E, 2]; got {x.shape} and {edges.shape}")
        if node_mask is not None and not self.uses_node_mask:
            raise ValueError(f"{type(self).__name__} does not take node_mask (padding rows of edges "
                             f"are ignored already); only layers with batch statistics (GINConv with "
                             f"batch_norm=True) need it")
        if node_mask is not None and node_mask.shape.rank != x.shape.rank - 1:
            raise ValueError(f"node_mask must be [N] (or [B, N] for a batch) to match x {x.shape}; "
                             f"got {node_mask.shape}")
        edges = tf.cast(edges, tf.int32)
        batched = x.shape.rank == 3
        if batched:
            x, edges, (batch, nodes) = flatten_batch(x, edges)
            if node_mask is not None:
                node_mask = tf.reshape(node_mask, [-1])
        num_nodes = tf.shape(x)[0]
        source, target = edge_index(edges, num_nodes)
        masked = {} if node_mask is None else {"node_mask": node_mask}
        out = self.propagate(x, source, target, num_nodes, training=training, **masked)
        return tf.reshape(out, [batch, nodes, out.shape[-1]]) if batched else out

    def propagate(self, x, source, target, num_nodes, training=None):  # pragma: no cover
        raise NotImplementedError

    def compute_output_shape(self, x_shape, edges_shape, node_mask_shape=None):
        return (*x_shape[:-1], self.output_units)

    @property
    def output_units(self) -> int:
        return self.units

    def _dense_weights(self, fan_in, units, name="kernel"):
        return self.add_weight(name=name, shape=(fan_in, units), initializer=self.kernel_initializer)


def _common_config(layer):
    return {"units": layer.units, "activation": keras.activations.serialize(layer.activation),
            "use_bias": layer.use_bias,
            "kernel_initializer": keras.initializers.serialize(layer.kernel_initializer)}


class _LinearMessagePassing(MessagePassing):
    """Shared constructor, bias and activation of GCNConv and ChebConv."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"units must be a positive integer, got {units}")
        self.units, self.use_bias = int(units), bool(use_bias)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _build_bias(self):
        self.bias = self.add_weight(name="bias", shape=(self.output_units,), initializer="zeros") \
            if self.use_bias else None

    def _finish(self, out):
        return self.activation(out + self.bias if self.use_bias else out)

    def get_config(self):
        return {**super().get_config(), **_common_config(self)}


@keras.saving.register_keras_serializable(package="kerasdl")
class GCNConv(_LinearMessagePassing):
    """Kipf & Welling (2017): ``H' = act(D~^-1/2 (A + I) D~^-1/2 H W + b)``, ``D~`` the degrees
    of ``A + I`` (in-degrees + 1, as PyG's ``gcn_norm``), the renormalisation trick."""

    def build(self, x_shape, edges_shape=None):
        self.kernel = self._dense_weights(x_shape[-1], self.units)
        self._build_bias()

    def propagate(self, x, source, target, num_nodes, training=None):
        h = tf.matmul(x, self.kernel)
        norm = tf.expand_dims(tf.math.rsqrt(in_degree(target, num_nodes, h.dtype) + 1.0), -1)
        h = h * norm
        return self._finish((scatter(tf.gather(h, source), target, num_nodes) + h) * norm)


@keras.saving.register_keras_serializable(package="kerasdl")
class ChebConv(_LinearMessagePassing):
    """Defferrard et al. (2016): ``H' = act(sum_{k=0..order} T_k(L~) H W_k + b)``, ``T_k`` the
    Chebyshev polynomials of ``L~ = 2 L_sym / lambda_max - I``, ``L_sym = I - D^-1/2 A D^-1/2``.

    ``order`` is the polynomial degree ``K`` (``K + 1`` terms, ``K``-hop filters), as in the
    curriculum's ``sum_{k=0}^K``; PyG's ``ChebConv(K=...)`` counts terms, so its ``K`` is
    ``order + 1``. ``lambda_max=2`` (the bound of ``L_sym``'s spectrum) avoids an
    eigendecomposition; pass the graph's own to match ``kerasdl.graph.scaled_laplacian``.
    """

    def __init__(self, units, order=2, lambda_max=2.0, **kwargs):
        super().__init__(units, **kwargs)
        if int(order) < 0 or float(lambda_max) <= 0:
            raise ValueError(f"need order >= 0 and lambda_max > 0, got {order}, {lambda_max}")
        self.order, self.lambda_max = int(order), float(lambda_max)

    def build(self, x_shape, edges_shape=None):
        self.kernel = self._dense_weights((self.order + 1) * x_shape[-1], self.units)
        self._build_bias()

    def propagate(self, x, source, target, num_nodes, training=None):
        degree = in_degree(target, num_nodes, x.dtype)
        connected = tf.expand_dims(tf.cast(degree > 0, x.dtype), -1)
        norm = tf.expand_dims(tf.math.rsqrt(tf.maximum(degree, 1.0)), -1) * connected

        def scaled_laplacian_times(v):  # L~ v = (2 / lambda_max) (v - D^-1/2 A D^-1/2 v) - v
            av = scatter(tf.gather(v * norm, source), target, num_nodes) * norm
            return (2.0 / self.lambda_max) * (v * connected - av) - v

        terms = [x]
        if self.order >= 1:
            terms.append(scaled_laplacian_times(x))
        for _ in range(2, self.order + 1):
            terms.append(2.0 * scaled_laplacian_times(terms[-1]) - terms[-2])
        return self._finish(tf.matmul(tf.concat(terms, -1), self.kernel))

    def get_config(self):
        return {**super().get_config(), "order": self.order, "lambda_max": self.lambda_max}


@keras.saving.register_keras_serializable(package="kerasdl")
class GINConv(MessagePassing):
    """Xu et al. (2019): ``h' = MLP((1 + eps) h + sum_{s -> t} h_s)``; the MLP is Dense layers of
    ``units`` (a tuple) with ``activation`` after each. ``learn_epsilon`` makes ``eps`` a weight
    (GIN-eps), else it stays ``epsilon`` (GIN-0 for 0).

    ``batch_norm=True`` puts batch normalisation between every Dense layer and its activation,
    as the paper's reference code does (``Linear -> BN -> ReLU``; PyTorch's momentum 0.1 and eps
    1e-5, i.e. Keras ``momentum=0.9``). On a padded batch the statistics are taken over the real
    nodes only: call ``layer(x, edges, node_mask=m)`` and Keras' ``BatchNormalization`` gets the
    flattened mask (its ``mask`` argument: masked moments and moving averages). At inference it
    is a per-feature affine of the moving statistics (TFLite MUL/ADD).
    """

    uses_node_mask = True

    def __init__(self, units=(64, 64), epsilon=0.0, learn_epsilon=False, activation="relu",
                 batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.units = tuple(int(u) for u in ((units,) if isinstance(units, int) else units))
        if not self.units or min(self.units) < 1:
            raise ValueError(f"units must be positive layer widths, got {units}")
        self.epsilon, self.learn_epsilon = float(epsilon), bool(learn_epsilon)
        self.activation = keras.activations.get(activation)
        self.batch_norm = bool(batch_norm)
        self.mlp = [keras.layers.Dense(u, activation=None if batch_norm else self.activation,
                                       name=f"dense_{i}") for i, u in enumerate(self.units)]
        self.norms = [keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"norm_{i}")
                      for i in range(len(self.units))] if batch_norm else []

    def build(self, x_shape, edges_shape=None, node_mask_shape=None):
        self.eps = self.add_weight(name="epsilon", shape=(), trainable=self.learn_epsilon,
                                   initializer=keras.initializers.Constant(self.epsilon))
        width = x_shape[-1]
        for i, dense in enumerate(self.mlp):
            dense.build((None, width))
            width = dense.units
            if self.norms:
                self.norms[i].build((None, width))

    @property
    def output_units(self) -> int:
        return self.units[-1]

    def call(self, x, edges, node_mask=None, training=None):
        if self.batch_norm and node_mask is None and x.shape.rank == 3:
            raise ValueError("GINConv(batch_norm=True) on a padded batch needs node_mask [B, N] "
                             "(1 for real nodes), or the padding would enter the statistics")
        return super().call(x, edges, node_mask=node_mask, training=training)

    def propagate(self, x, source, target, num_nodes, training=None, node_mask=None):
        h = (1.0 + tf.cast(self.eps, x.dtype)) * x + scatter(tf.gather(x, source), target, num_nodes)
        for i, dense in enumerate(self.mlp):
            h = dense(h)
            if self.norms:
                h = self.activation(self.norms[i](h, training=training, mask=node_mask))
        return h

    def get_config(self):
        return {**super().get_config(), "units": list(self.units), "epsilon": self.epsilon,
                "learn_epsilon": self.learn_epsilon, "batch_norm": self.batch_norm,
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="kerasdl")
class GraphReadout(keras.layers.Layer):
    """Per-graph ``mode`` pooling (sum, mean, max) of a padded batch: ``x [B, N, F]`` and
    ``node_mask [B, N]`` (1 for real nodes) -> ``[B, F]``, by :func:`segment_pool`."""

    def __init__(self, mode="sum", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOL_MODES:
            raise ValueError(f"unknown pooling {mode!r}; valid modes: {', '.join(POOL_MODES)}")
        self.mode = mode

    def call(self, x, node_mask):
        shape = tf.shape(x)
        batch, nodes = shape[0], shape[1]
        graph_ids = tf.broadcast_to(tf.expand_dims(tf.range(batch), 1), [batch, nodes])
        index = tf.where(node_mask > 0, graph_ids, -tf.ones_like(graph_ids))
        flat = tf.reshape(x, [batch * nodes, x.shape[-1]])
        return segment_pool(flat, tf.reshape(index, [-1]), batch, self.mode)

    def compute_output_shape(self, x_shape, node_mask_shape):
        return (x_shape[0], x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
