"""Two-tower retrieval (Yi et al. 2019, "sampling-bias-corrected neural modeling"; Covington et al.
2016) trained with in-batch negatives, and a brute-force top-k index over the item tower.

``(user_ids [B, Fu], user_values [B, Fu], item_ids [B, Fi], item_values [B, Fi]) -> logits [B, B]``
with ``logits[a, b] = <u_a, v_b> / temperature`` (u, v L2-normalised tower outputs): row a's
positive is item a, the other items of the batch are its negatives: :class:`InBatchSoftmaxLoss`
(task ``retrieval``). The towers are sub-models
(``model.get_layer("user_tower")`` / ``"item_tower"``) for serving; :func:`retrieve` ranks all
items for a batch of users with ``keras_rs.layers.BruteForceRetrieval``.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasdl.layers.feature_interaction import FieldEmbedding
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.recommender.common import ML100K_VOCAB, mlp


def tower(vocab_size, num_fields, embedding_dim, hidden_units, output_dim, name):
    """A Keras model ``(ids [B, F], values [B, F]) -> L2-normalised [B, output_dim]``."""
    ids = keras.Input((num_fields,), dtype="int32", name=f"{name}_ids")
    values = keras.Input((num_fields,), dtype="float32", name=f"{name}_values")
    x = ops.reshape(FieldEmbedding(vocab_size, embedding_dim, name=f"{name}_embeddings")([ids, values]),
                    (-1, num_fields * embedding_dim))
    x = keras.layers.Dense(output_dim, name=f"{name}_output")(mlp(x, hidden_units, name=f"{name}_mlp"))
    return keras.Model([ids, values], keras.layers.UnitNormalization(name=f"{name}_normalize")(x),
                       name=f"{name}_tower")


@register_model("two_tower", tags=("recommender", "retrieval"), task="retrieval",
                small={"vocab_size": 40, "num_user_fields": 3, "num_item_fields": 4,
                       "embedding_dim": 4, "hidden_units": (16,), "output_dim": 8,
                       "temperature": 0.2}, deployable=True)
class TwoTowerRetrieval(FunctionalModel):
    """Defaults fit MovieLens-100k's 5 user and 21 item fields (one shared id space)."""

    @staticmethod
    def build_graph(vocab_size=ML100K_VOCAB, num_user_fields=5, num_item_fields=21,
                    embedding_dim=16, hidden_units=(64,), output_dim=32, temperature=0.1):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        users = tower(vocab_size, num_user_fields, embedding_dim, hidden_units, output_dim, "user")
        items = tower(vocab_size, num_item_fields, embedding_dim, hidden_units, output_dim, "item")
        inputs = [*users.inputs, *items.inputs]
        u, v = users(inputs[:2]), items(inputs[2:])
        return inputs, ops.matmul(u, ops.transpose(v)) / temperature


@keras.saving.register_keras_serializable(package="kerasdl")
class InBatchSoftmaxLoss(keras.losses.Loss):
    """Softmax cross-entropy of in-batch logits [B, B] whose positives are the diagonal.
    ``y_true`` [B] holds each row's item's log sampling probability log q_b, subtracted from its
    column (Yi et al. 2019's logQ correction: popular items appear as negatives more often than
    they should); zeros give the plain in-batch softmax."""

    def call(self, y_true, y_pred):
        log_q = ops.reshape(ops.cast(y_true, y_pred.dtype), (1, -1))
        logits = y_pred - log_q
        labels = ops.arange(ops.shape(logits)[0])
        return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def retrieve(user_embeddings, item_embeddings, exclude, k):
    """int [U, k]: each user's k best items by dot product from a brute-force index
    (``keras_rs.layers.BruteForceRetrieval``), never an item of ``exclude[u]`` (seen items):
    the index returns the top k + max |exclude| and the seen ones are dropped."""
    import keras_rs

    user_embeddings, item_embeddings = np.asarray(user_embeddings), np.asarray(item_embeddings)
    if len(exclude) != len(user_embeddings):
        raise ValueError(f"exclude must hold one array per user: {len(exclude)} vs {len(user_embeddings)}")
    depth = min(len(item_embeddings), k + max((len(e) for e in exclude), default=0))
    if not 0 < k <= len(item_embeddings) - max((len(set(map(int, e))) for e in exclude), default=0):
        raise ValueError(f"k = {k} leaves some user fewer than k unseen items")
    index = keras_rs.layers.BruteForceRetrieval(k=depth, return_scores=False)
    index.update_candidates(item_embeddings)
    ranked = np.asarray(index(user_embeddings))
    out = np.empty((len(ranked), k), np.int64)
    for u, (row, seen) in enumerate(zip(ranked, exclude)):
        out[u] = row[~np.isin(row, seen)][:k]
    return out
