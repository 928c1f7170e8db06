"""Factorisation models: biased matrix factorisation (Koren et al. 2009), the factorisation machine
(Rendle 2010) and the field-aware FM (Juan et al. 2016).

- ``mf``: ``(user [B], item [B]) int32 -> rating [B, 1] = μ + b_u + b_i + <p_u, q_i>`` (``μ`` the
  ``global_mean`` hyperparameter; train with MSE, task ``rating``).
- ``fm`` / ``ffm``: ``(feature_ids [B, F], feature_values [B, F]) -> [B, 1] = w0 + Σ w_i x_i +
  pairwise``; a click logit (task ``ctr``, BCE from logits) or, with ``global_bias`` = the mean
  rating, a rating regressor.
"""
from __future__ import annotations

import keras
from keras import ops

from kerasdl.layers.feature_interaction import FFMInteraction, FieldEmbedding, FMInteraction, GlobalBias
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.recommender.common import ML100K_FIELDS, ML100K_VOCAB, SMALL, field_inputs


@keras.saving.register_keras_serializable(package="kerasdl")
class RowPenalty(keras.layers.Layer):
    """Identity that adds ``l2 * mean over the batch of Σ x²`` to the model's losses."""

    def __init__(self, l2, **kwargs):
        super().__init__(**kwargs)
        self.l2 = float(l2)

    def call(self, x):
        self.add_loss(self.l2 * ops.mean(ops.sum(ops.square(x), axis=-1)))
        return x

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


@register_model("mf", tags=("recommender",), task="rating",
                small={"num_users": 12, "num_items": 15, "embedding_dim": 4, "global_mean": 3.0},
                deployable=True)
class MatrixFactorization(FunctionalModel):
    """Biased MF; the factors start at N(0, 0.01²) and the biases at 0. ``l2`` adds
    λ(|p_u|² + |q_i|² + b_u² + b_i²) per example (the batch's rows only, as SGD-trained MF does)."""

    @staticmethod
    def build_graph(num_users=943, num_items=1682, embedding_dim=32, global_mean=0.0, l2=0.0):
        if min(num_users, num_items, embedding_dim) < 1:
            raise ValueError(f"num_users, num_items, embedding_dim must be >= 1, got "
                             f"{num_users}, {num_items}, {embedding_dim}")
        user = keras.Input((), dtype="int32", name="user")
        item = keras.Input((), dtype="int32", name="item")
        init = keras.initializers.RandomNormal(stddev=0.01)

        def rows(n, dim, ids, name):
            table = keras.layers.Embedding(n, dim, embeddings_initializer=init if dim > 1 else "zeros",
                                           name=name)
            return RowPenalty(l2, name=f"{name}_l2")(table(ids)) if l2 else table(ids)

        p, q = rows(num_users, embedding_dim, user, "user_factors"), rows(num_items, embedding_dim, item, "item_factors")
        b_u, b_i = rows(num_users, 1, user, "user_bias"), rows(num_items, 1, item, "item_bias")
        dot = ops.sum(p * q, axis=-1, keepdims=True)
        return [user, item], dot + b_u + b_i + global_mean


def linear_term(ids, values, vocab_size, global_bias=0.0):
    """``w0 + Σ_i w_i x_i`` [B, 1] (w0 a trainable scalar starting at ``global_bias``)."""
    weights = FieldEmbedding(vocab_size, 1, embeddings_initializer="zeros", name="linear")([ids, values])
    return GlobalBias(global_bias, name="global_bias")(ops.sum(weights, axis=1))


@register_model("fm", tags=("recommender", "ctr"), task="ctr", small=SMALL, deployable=True)
class FactorizationMachine(FunctionalModel):
    """Degree-2 FM: linear term + O(kn) pairwise term (:class:`FMInteraction`)."""

    @staticmethod
    def build_graph(vocab_size=ML100K_VOCAB, num_fields=ML100K_FIELDS, embedding_dim=16,
                    global_bias=0.0):
        ids, values = field_inputs(num_fields)
        scaled = FieldEmbedding(vocab_size, embedding_dim, name="factors")([ids, values])
        return [ids, values], linear_term(ids, values, vocab_size, global_bias) + FMInteraction(name="pairwise")(scaled)


@register_model("ffm", tags=("recommender", "ctr"), task="ctr", small=SMALL, deployable=True)
class FieldAwareFM(FunctionalModel):
    """FFM: linear term + field-aware pairwise term (:class:`FFMInteraction`)."""

    @staticmethod
    def build_graph(vocab_size=ML100K_VOCAB, num_fields=ML100K_FIELDS, embedding_dim=4,
                    global_bias=0.0):
        ids, values = field_inputs(num_fields)
        pairwise = FFMInteraction(vocab_size, num_fields, embedding_dim, name="pairwise")([ids, values])
        return [ids, values], linear_term(ids, values, vocab_size, global_bias) + pairwise
