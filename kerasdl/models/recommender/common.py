"""Shared pieces of the recommender models: field inputs and an MLP tower."""
from __future__ import annotations

import keras

# MovieLens-100k's feature columns (kerasdl.data.movielens_features): 26 fields, 2,687 ids
ML100K_VOCAB, ML100K_FIELDS = 2687, 26
SMALL = {"vocab_size": 40, "num_fields": 5, "embedding_dim": 4}


def field_inputs(num_fields: int):
    """``feature_ids [B, F]`` int32 and ``feature_values [B, F]`` float32 inputs."""
    if num_fields < 1:
        raise ValueError(f"num_fields must be >= 1, got {num_fields}")
    return (keras.Input((num_fields,), dtype="int32", name="feature_ids"),
            keras.Input((num_fields,), dtype="float32", name="feature_values"))


def mlp(x, hidden_units, dropout=0.0, name="mlp"):
    """ReLU Dense layers (with dropout after each when ``dropout`` > 0)."""
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"{name}_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}")(x)
    return x
