"""Node classifiers: stacks of one kind of graph layer with dropout, ending in per-node logits.

Every model maps ``(node_features [B, N, F], edges [B, E, 2])`` to logits ``[B, N, num_classes]``
(one graph: ``B = 1``; transductive training masks the unlabelled nodes out of the loss).
Defaults follow the papers' citation-network recipes (Kipf & Welling 2017: 16 hidden units,
dropout 0.5; Velickovic et al. 2018: 8 heads of 8, dropout 0.6, one output head).
"""
from __future__ import annotations

import keras

from kerasdl.layers.graph import ChebConv, GCNConv
from kerasdl.layers.graph_attention import GATConv
from kerasdl.layers.graph_sage import SAGEConv
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.graph.inputs import graph_inputs

SMALL = {"num_features": 6, "num_classes": 3, "hidden_units": (8,), "dropout": 0.1}


def _stack(num_features, layers, dropout):
    """Inputs and the output of ``layers`` applied in turn, each after dropout."""
    inputs = graph_inputs(num_features)
    h, edges = inputs
    for layer in layers:
        h = layer(keras.layers.Dropout(dropout)(h), edges)
    return inputs, h


def _widths(hidden_units):
    widths = tuple(int(u) for u in hidden_units)
    if min(widths, default=1) < 1:
        raise ValueError(f"hidden_units must be positive widths, got {hidden_units}")
    return widths


@register_model("gcn", tags=("graph", "node_classification"), task="node_classification",
                small={**SMALL, "hidden_units": (64,)}, deployable=True)
class GCN(FunctionalModel):
    """Kipf & Welling (2017): GCNConv(ReLU) layers of ``hidden_units``, then GCNConv to logits."""

    @staticmethod
    def build_graph(num_features=16, num_classes=2, hidden_units=(16,), dropout=0.5):
        layers = [GCNConv(u, activation="relu") for u in _widths(hidden_units)]
        return _stack(num_features, layers + [GCNConv(num_classes)], dropout)


@register_model("chebnet", tags=("graph", "node_classification"), task="node_classification",
                small={**SMALL, "order": 2}, deployable=True)
class ChebNet(FunctionalModel):
    """Defferrard et al. (2016): ChebConv layers with ``order``-degree Chebyshev filters."""

    @staticmethod
    def build_graph(num_features=16, num_classes=2, hidden_units=(16,), order=2, dropout=0.5):
        layers = [ChebConv(u, order=order, activation="relu") for u in _widths(hidden_units)]
        return _stack(num_features, layers + [ChebConv(num_classes, order=order)], dropout)


@register_model("gat", tags=("graph", "node_classification"), task="node_classification",
                small={**SMALL, "hidden_units": (4,), "heads": 2}, deployable=True)
class GAT(FunctionalModel):
    """Velickovic et al. (2018): GATConv layers of ``heads`` concatenated heads (ELU), then
    ``output_heads`` averaged heads to logits; ``dropout`` on inputs and attention weights."""

    @staticmethod
    def build_graph(num_features=16, num_classes=2, hidden_units=(8,), heads=8, output_heads=1,
                    dropout=0.6):
        layers = [GATConv(u, heads=heads, activation="elu", attention_dropout=dropout)
                  for u in _widths(hidden_units)]
        out = GATConv(num_classes, heads=output_heads, concat_heads=False, attention_dropout=dropout)
        return _stack(num_features, layers + [out], dropout)


@register_model("graphsage", tags=("graph", "node_classification"), task="node_classification",
                small=SMALL, deployable=True)
class GraphSAGE(FunctionalModel):
    """Hamilton et al. (2017): SAGEConv(ReLU) layers with the ``aggregator`` ("mean", "max",
    "lstm"), then SAGEConv to logits. Train on large graphs with kerasdl.graph.NeighborSampler."""

    @staticmethod
    def build_graph(num_features=16, num_classes=2, hidden_units=(16,), aggregator="mean",
                    normalize=False, dropout=0.5):
        layers = [SAGEConv(u, aggregator=aggregator, normalize=normalize, activation="relu")
                  for u in _widths(hidden_units)]
        return _stack(num_features, layers + [SAGEConv(num_classes, aggregator=aggregator)],
                      dropout)
