"""The Keras inputs every kerasdl graph model takes (names are kept through TFLite export)."""
from __future__ import annotations

import keras


def graph_inputs(num_features: int, node_mask: bool = False) -> list:
    """``node_features [B, N, num_features]`` float, ``edges [B, E, 2]`` int32 (``-1`` rows are
    padding) and, for graph-level models, ``node_mask [B, N]`` (1 for real nodes); ``N`` and ``E``
    stay dynamic."""
    if int(num_features) < 1:
        raise ValueError(f"num_features must be a positive integer, got {num_features}")
    inputs = [keras.Input((None, int(num_features)), name="node_features"),
              keras.Input((None, 2), dtype="int32", name="edges")]
    if node_mask:
        inputs.append(keras.Input((None,), name="node_mask"))
    return inputs
