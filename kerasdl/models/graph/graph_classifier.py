"""GIN graph classifier (Xu et al., 2019): GIN layers, a per-layer readout, a linear head.

Maps ``(node_features [B, N, F], edges [B, E, 2], node_mask [B, N])`` to logits
``[B, num_classes]``. As in the paper's graph-level readout (its Eq. 4.2), the pooled states of
the input and of every layer are concatenated, so shallow and deep substructure counts both reach
the head; ``readout="sum"`` is the injective choice the paper argues for.
"""
from __future__ import annotations

import keras

from kerasdl.layers.graph import GINConv, GraphReadout
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.graph.inputs import graph_inputs


@register_model("gin", tags=("graph", "graph_classification"), task="graph_classification",
                small={"num_features": 5, "num_classes": 2, "hidden_units": (8, 8), "dropout": 0.1},
                deployable=True)
class GIN(FunctionalModel):
    """``len(hidden_units)`` GIN layers (each a ``mlp_layers``-deep MLP of that width, with batch
    norm over the real nodes after every Dense layer unless ``batch_norm=False``), readout of
    every layer's states, dropout, then a Dense layer to logits."""

    @staticmethod
    def build_graph(num_features=7, num_classes=2, hidden_units=(32, 32, 32), mlp_layers=2,
                    readout="sum", learn_epsilon=False, dropout=0.5, batch_norm=True):
        if int(mlp_layers) < 1 or not hidden_units:
            raise ValueError(f"need mlp_layers >= 1 and at least one GIN layer, got "
                             f"mlp_layers={mlp_layers}, hidden_units={hidden_units}")
        inputs = graph_inputs(num_features, node_mask=True)
        h, edges, mask = inputs
        pooled = [GraphReadout(readout)(h, mask)]
        for width in hidden_units:
            h = GINConv((int(width),) * int(mlp_layers), learn_epsilon=learn_epsilon,
                        batch_norm=batch_norm)(h, edges, node_mask=mask)
            pooled.append(GraphReadout(readout)(h, mask))
        features = keras.layers.Dropout(dropout)(keras.layers.Concatenate()(pooled))
        return inputs, keras.layers.Dense(num_classes)(features)
