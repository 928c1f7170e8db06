"""PinSage (Ying et al. 2018) for user–item recommendation on a bipartite interaction graph.

Neighbourhoods come from random walks with restart on the training graph
(:mod:`kerasdl.data.random_walks`): item i's neighbours are the ``num_neighbors`` items most
visited by walks from i (item -> user -> item ...), user u's are the items most visited from u;
the normalised visit counts are the importance-pooling weights. The network:

    h⁰_i = Dense(item features) (+ item id embedding)
    h^k_i = CONVOLVE(h^{k-1}_i, {h^{k-1}_j : j ∈ N(i)}, α_i)        k = 1..num_layers
    z_u  = CONVOLVE(Dense(user features) (+ user id embedding), {h^K_j : j ∈ N(u)}, α_u)
    score(u, i) = <z_u, h^K_i>   (both L2-normalised, so a cosine)

``queries [B, 1 + num_candidates]`` int32 (column 0 a user id, the rest item ids) ->
``scores [B, num_candidates]``. Train with :class:`kerasdl.losses.MaxMarginRankingLoss` on
(positive, negatives...) candidates; PinSage's hard negatives are items ranked in a band of the
user's visit counts (:func:`kerasdl.data.random_walks.ranked_band`).

On a graph this small every forward pass convolves all items (PinSage's MapReduce inference
form: each embedding once per layer, no repeated neighbourhoods); a web-scale graph would
convolve only the sampled computation graphs of the batch. Features and neighbourhoods are
non-trainable tables sized by the hyperparameters and filled by ``model.set_graph(...)`` (saved
with the weights); until then every node has zero features and only itself (items) or item
``u mod num_items`` (users) as neighbour. Without id embeddings the model is inductive: an
item never seen in training still gets an embedding from its features and neighbourhood.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasdl.layers.graph_importance import ImportancePoolingConv
from kerasdl.models.base import FunctionalModel, register_model

_TABLES = ("item_features", "user_features", "item_neighbors", "item_weights", "user_neighbors",
           "user_weights")


@keras.saving.register_keras_serializable(package="kerasdl")
class PinSageScorer(keras.layers.Layer):
    """``queries [B, 1 + C] -> scores [B, C]`` (see the module docstring)."""

    def __init__(self, num_users, num_items, user_feature_dim, item_feature_dim, num_neighbors,
                 embedding_dim, num_layers=2, use_ids=True, **kwargs):
        super().__init__(**kwargs)
        sizes = (num_users, num_items, user_feature_dim, item_feature_dim, num_neighbors,
                 embedding_dim, num_layers)
        if min(sizes) < 1:
            raise ValueError(f"sizes must be >= 1, got num_users, num_items, user_feature_dim, "
                             f"item_feature_dim, num_neighbors, embedding_dim, num_layers = {sizes}")
        if num_neighbors > num_items:
            raise ValueError(f"num_neighbors ({num_neighbors}) exceeds num_items ({num_items})")
        (self.num_users, self.num_items, self.user_feature_dim, self.item_feature_dim,
         self.num_neighbors, self.embedding_dim, self.num_layers) = (int(s) for s in sizes)
        self.use_ids = bool(use_ids)
        dim = self.embedding_dim
        self.item_input = keras.layers.Dense(dim, name="item_input")
        self.user_input = keras.layers.Dense(dim, name="user_input")
        if self.use_ids:
            self.item_ids = keras.layers.Embedding(num_items, dim, name="item_ids")
            self.user_ids = keras.layers.Embedding(num_users, dim, name="user_ids")
        self.item_convs = [ImportancePoolingConv(dim, name=f"item_conv_{k}") for k in range(num_layers)]
        self.user_conv = ImportancePoolingConv(dim, name="user_conv")

    def build(self, input_shape):
        u, i, t, dim = self.num_users, self.num_items, self.num_neighbors, self.embedding_dim
        shapes = {"item_features": ((i, self.item_feature_dim), "float32"),
                  "user_features": ((u, self.user_feature_dim), "float32"),
                  "item_neighbors": ((i, t), "int32"), "item_weights": ((i, t), "float32"),
                  "user_neighbors": ((u, t), "int32"), "user_weights": ((u, t), "float32")}
        for name, (shape, dtype) in shapes.items():
            setattr(self, name, self.add_weight(name=name, shape=shape, dtype=dtype,
                                                initializer="zeros", trainable=False))
        self.item_neighbors.assign(np.repeat(np.arange(i, dtype=np.int32)[:, None], t, 1))
        self.user_neighbors.assign(np.repeat((np.arange(u) % i).astype(np.int32)[:, None], t, 1))
        self.item_weights.assign(np.full((i, t), 1.0 / t, np.float32))
        self.user_weights.assign(np.full((u, t), 1.0 / t, np.float32))
        self.item_input.build((None, self.item_feature_dim))
        self.user_input.build((None, self.user_feature_dim))
        if self.use_ids:
            self.item_ids.build((None,))
            self.user_ids.build((None,))
        for conv in (*self.item_convs, self.user_conv):
            conv.build([(None, dim), (None, t, dim), (None, t)])

    def set_graph(self, **tables):
        """Assign the six tables (``item_features`` ... ``user_weights``, shapes as built)."""
        if set(tables) != set(_TABLES):
            raise ValueError(f"set_graph needs exactly {', '.join(_TABLES)}; got {', '.join(sorted(tables))}")
        for name, value in tables.items():
            variable = getattr(self, name)
            value = np.asarray(value)
            if value.shape != tuple(variable.shape):
                raise ValueError(f"{name} must have shape {tuple(variable.shape)}, got {value.shape}")
            if name.endswith("neighbors"):
                if value.min() < 0 or value.max() >= self.num_items:
                    raise ValueError(f"{name} must hold item ids in [0, {self.num_items})")
            elif not np.isfinite(value).all():
                raise ValueError(f"{name} holds non-finite values")
            variable.assign(value.astype(variable.dtype))

    def item_embeddings(self):
        """h^K of every item, [num_items, embedding_dim], L2-normalised."""
        h = self.item_input(self.item_features)
        if self.use_ids:
            h = h + self.item_ids(ops.arange(self.num_items, dtype="int32"))
        for conv in self.item_convs:
            h = conv([h, ops.take(h, self.item_neighbors, axis=0), self.item_weights])
        return h

    def user_embeddings(self, users, items):
        """z_u of ``users`` [B] given the item embeddings ``items`` [num_items, D]."""
        h = self.user_input(ops.take(self.user_features, users, axis=0))
        if self.use_ids:
            h = h + self.user_ids(users)
        neighbors = ops.take(items, ops.take(self.user_neighbors, users, axis=0), axis=0)
        return self.user_conv([h, neighbors, ops.take(self.user_weights, users, axis=0)])

    def call(self, queries):
        items = self.item_embeddings()
        users = self.user_embeddings(ops.take(queries, 0, axis=1), items)
        candidates = ops.take(items, queries[:, 1:], axis=0)  # [B, C, D]
        return ops.einsum("bd,bcd->bc", users, candidates)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] - 1)

    def get_config(self):
        return {**super().get_config(), "num_users": self.num_users, "num_items": self.num_items,
                "user_feature_dim": self.user_feature_dim, "item_feature_dim": self.item_feature_dim,
                "num_neighbors": self.num_neighbors, "embedding_dim": self.embedding_dim,
                "num_layers": self.num_layers, "use_ids": self.use_ids}


@register_model("pinsage", tags=("graph", "recommendation"), task="ranking",
                # 120 items: the contract's TFLite parity then covers the folding bug that
                # kerasdl.layers.graph_importance.l2_normalize avoids (it needs >= ~100 rows)
                small={"num_users": 6, "num_items": 120, "user_feature_dim": 3,
                       "item_feature_dim": 4, "num_neighbors": 3, "embedding_dim": 16,
                       "num_candidates": 4},
                deployable=True)
class PinSage(FunctionalModel):
    """PinSage over a user–item graph; defaults fit MovieLens-100k's features
    (:meth:`kerasdl.data.movielens.MovieLensFeatures.user_matrix` / ``item_matrix``)."""

    @staticmethod
    def build_graph(num_users=943, num_items=1682, user_feature_dim=30, item_feature_dim=21,
                    num_neighbors=10, embedding_dim=64, num_layers=2, use_ids=True,
                    num_candidates=11):
        if num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
        queries = keras.Input((1 + num_candidates,), dtype="int32", name="queries")
        scores = PinSageScorer(num_users, num_items, user_feature_dim, item_feature_dim,
                               num_neighbors, embedding_dim, num_layers, use_ids,
                               name="scorer", dtype="float32")(queries)
        return queries, scores

    @property
    def scorer(self) -> PinSageScorer:
        return self.get_layer("scorer")

    def set_graph(self, **tables):
        self.scorer.set_graph(**tables)

    def score_all(self, users, batch_size=256) -> np.ndarray:
        """float32 [len(users), num_items]: every item's score for each user (inference)."""
        items = self.scorer.item_embeddings()
        users = np.asarray(users, np.int32)
        rows = [ops.matmul(self.scorer.user_embeddings(ops.convert_to_tensor(users[i:i + batch_size]), items),
                           ops.transpose(items)) for i in range(0, len(users), batch_size)]
        return np.concatenate([ops.convert_to_numpy(r) for r in rows]) if rows else \
            np.zeros((0, self.scorer.num_items), np.float32)
