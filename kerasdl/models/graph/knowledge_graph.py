"""Knowledge-graph link prediction: DistMult (Yang et al. 2015) and an R-GCN encoder with a
DistMult decoder (Schlichtkrull et al. 2018).

Both models answer tail queries 1-vs-all: ``queries [B, 2]`` int32 (entity id, relation id in
``[0, 2R)``; relation ``r + R`` is the reciprocal of ``r``, so a head query (?, r, t) is asked as
(t, r + R, ?)) -> ``logits [B, num_entities]``, the DistMult score <e_h, w_r, e_t> of every
candidate tail. Train with sparse softmax cross-entropy on the true tail (1-vs-all, as in Lacroix
et al. 2018 and Ruffinelli et al. 2020); :func:`kerasdl.data.knowledge_graphs.reciprocal_queries`
makes the queries. DistMult's score is symmetric in h and t; the reciprocal relations give each
direction its own vector, which lets it fit asymmetric relations (kinship terms).

``rgcn_distmult`` first encodes every entity with ``num_layers`` R-GCN layers (basis
decomposition) over the training graph, with a residual connection to the input embeddings, and
decodes those. The last layer's kernels start at zero, so training starts from DistMult. The graph lives in the model as non-trainable int32/float32 tables sized by
``num_edges`` and filled by ``model.set_graph(train_triples)`` (saved with the weights); an unset
graph has no edges. Messages are averaged over all edges into a node (c_i = |N_i|) by default;
``set_graph(..., normalization="relation")`` gives the paper's per-relation mean (c_{i,r}). ``edge_dropout`` drops messages while training (the paper's regulariser;
it also keeps the encoder from relying on the very edge it is asked to predict).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasdl.layers.graph_relational import RelationalGraphConv
from kerasdl.models.base import FunctionalModel, register_model

_SMALL = {"num_entities": 12, "num_relations": 3, "embedding_dim": 64}


@keras.saving.register_keras_serializable(package="kerasdl")
class KnowledgeGraphScorer(keras.layers.Layer):
    """``queries [B, 2] -> logits [B, num_entities]``: optional R-GCN encoder + DistMult decoder."""

    def __init__(self, num_entities, num_relations, embedding_dim, num_layers=0, num_bases=None,
                 num_edges=0, dropout=0.0, edge_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if min(num_entities, num_relations, embedding_dim) < 1:
            raise ValueError(f"num_entities, num_relations and embedding_dim must be >= 1, got "
                             f"{num_entities}, {num_relations}, {embedding_dim}")
        if num_layers and num_edges < 1:
            raise ValueError("an R-GCN encoder (num_layers > 0) needs num_edges >= 1 (twice the "
                             "number of training triples)")
        self.num_entities, self.num_relations = int(num_entities), int(num_relations)
        self.embedding_dim, self.num_layers, self.num_bases = int(embedding_dim), int(num_layers), num_bases
        self.num_edges = int(num_edges) if num_layers else 0
        self.dropout, self.edge_dropout = float(dropout), float(edge_dropout)
        self.query_dropout = keras.layers.Dropout(dropout)
        self.message_dropout = keras.layers.Dropout(edge_dropout)
        # the last layer starts at zero: the encoder begins as the identity (plain DistMult) and
        # learns a graph correction (on a dense KG a random one mixes all entities alike)
        self.convs = [RelationalGraphConv(embedding_dim, 2 * num_relations, num_bases,
                                          activation="relu" if i < num_layers - 1 else None,
                                          kernel_initializer="zeros" if i == num_layers - 1
                                          else "glorot_uniform", name=f"rgcn_{i}")
                      for i in range(num_layers)]

    def build(self, input_shape):
        dim, edges = self.embedding_dim, self.num_edges
        self.entities = self.add_weight(name="entity_embeddings", shape=(self.num_entities, dim),
                                        initializer="glorot_normal")
        self.relations = self.add_weight(name="relation_embeddings",
                                         shape=(2 * self.num_relations, dim), initializer="ones")
        # the message graph: (source, relation, target) ids and weights of every edge
        self.edge_ids = self.add_weight(name="edge_ids", shape=(3, edges), dtype="int32",
                                        initializer="zeros", trainable=False)
        self.edge_weights = self.add_weight(name="edge_weights", shape=(edges,),
                                            initializer="zeros", trainable=False)
        for conv in self.convs:
            conv.build([(self.num_entities, dim)])

    def set_graph(self, sources, relations, targets, weights):
        """Fill the message graph (arrays of length ``num_edges``)."""
        ids = np.stack([np.asarray(a, np.int64) for a in (sources, relations, targets)])
        if ids.shape != (3, self.num_edges) or np.shape(weights) != (self.num_edges,):
            raise ValueError(f"the graph must have exactly num_edges={self.num_edges} edges, got "
                             f"{ids.shape[1]} ids and {np.shape(weights)} weights")
        limits = (self.num_entities, 2 * self.num_relations, self.num_entities)
        for row, limit, what in zip(ids, limits, ("source", "relation", "target")):
            if len(row) and (row.min() < 0 or row.max() >= limit):
                raise ValueError(f"edge {what} ids must be in [0, {limit})")
        self.edge_ids.assign(ids.astype(np.int32))
        self.edge_weights.assign(np.asarray(weights, np.float32))

    def encode(self, training=None):
        """Entity vectors the decoder scores: the embeddings, plus the R-GCN output if any."""
        h = ops.convert_to_tensor(self.entities)
        if not self.convs:
            return h
        sources, relations, targets = ops.unstack(self.edge_ids, 3, axis=0)
        weights = self.message_dropout(self.edge_weights, training=training)
        g = h
        for conv in self.convs:
            g = conv([g, sources, relations, targets, weights])
        return h + g

    def call(self, queries, training=None):
        entities = self.encode(training)
        head = ops.take(entities, ops.take(queries, 0, axis=1), axis=0)
        relation = ops.take(self.relations, ops.take(queries, 1, axis=1), axis=0)
        query = self.query_dropout(head * relation, training=training)
        return ops.matmul(query, ops.transpose(entities))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_entities)

    def get_config(self):
        return {**super().get_config(), "num_entities": self.num_entities,
                "num_relations": self.num_relations, "embedding_dim": self.embedding_dim,
                "num_layers": self.num_layers, "num_bases": self.num_bases,
                "num_edges": self.num_edges, "dropout": self.dropout,
                "edge_dropout": self.edge_dropout}


class _LinkPredictor(FunctionalModel):
    """Shared: the query input, the scorer, graph and embedding access."""

    @staticmethod
    def _graph(**scorer_args):
        queries = keras.Input((2,), dtype="int32", name="queries")
        logits = KnowledgeGraphScorer(name="scorer", dtype="float32", **scorer_args)(queries)
        return queries, logits

    @property
    def scorer(self) -> KnowledgeGraphScorer:
        return self.get_layer("scorer")

    def set_graph(self, train_triples, normalization="node"):
        """Build the R-GCN message graph from the training triples (both directions; edge weights
        as :func:`kerasdl.data.knowledge_graphs.relational_edges`)."""
        from kerasdl.data.knowledge_graphs import relational_edges

        self.scorer.set_graph(*relational_edges(train_triples, self.scorer.num_entities,
                                                self.scorer.num_relations, normalization))

    def entity_vectors(self) -> np.ndarray:
        """The encoded entity vectors [num_entities, embedding_dim] (inference mode)."""
        return ops.convert_to_numpy(self.scorer.encode(training=False))


@register_model("distmult", tags=("graph", "knowledge_graph"), task="link_prediction",
                small=_SMALL, deployable=True)
class DistMult(_LinkPredictor):
    """DistMult: a vector per entity and per (reciprocal) relation, no graph encoder."""

    @staticmethod
    def build_graph(num_entities=14, num_relations=55, embedding_dim=200, dropout=0.0):
        return _LinkPredictor._graph(num_entities=num_entities, num_relations=num_relations,
                                     embedding_dim=embedding_dim, dropout=dropout)


@register_model("rgcn_distmult", tags=("graph", "knowledge_graph"), task="link_prediction",
                small={**_SMALL, "num_edges": 20, "num_layers": 2, "num_bases": 2}, deployable=True)
class RGCNDistMult(_LinkPredictor):
    """R-GCN encoder (basis decomposition, residual) over the training graph + DistMult decoder.
    Defaults fit Nations (num_edges = 2 x 1,592 training triples)."""

    @staticmethod
    def build_graph(num_entities=14, num_relations=55, num_edges=3184, embedding_dim=200,
                    num_layers=2, num_bases=10, dropout=0.0, edge_dropout=0.0):
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1 (num_layers=0 is the distmult model), got {num_layers}")
        return _LinkPredictor._graph(num_entities=num_entities, num_relations=num_relations,
                                     embedding_dim=embedding_dim, num_layers=num_layers,
                                     num_bases=num_bases, num_edges=num_edges, dropout=dropout,
                                     edge_dropout=edge_dropout)
