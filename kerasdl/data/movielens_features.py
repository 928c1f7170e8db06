"""Feature columns of MovieLens-100k for CTR / rating / retrieval models, built with Keras
preprocessing layers that stay **outside** the scoring models: the layers are adapted on the
training split here, applied once to the 943 user and 1,682 item rows, and the models (and their
TFLite exports) take only the integer ids and numbers they produce.

Fields (libFM style: every example is ``feature_ids [F]`` into one global vocabulary, each field
at its own offset, and ``feature_values [F]``, 1 for a categorical field):

    user fields: user (IntegerLookup over training users), age (Discretization at MovieLens-1M's
                 age groups), gender (StringLookup), occupation (StringLookup), zip (Hashing of
                 the first 3 characters into 64 bins)
    item fields: item (IntegerLookup over training items; items first seen in validation/test map
                 to its OOV id 0), year (Discretization into 10 release-year quantile bins,
                 adapted on the training ratings' items; 2 unknown years take the median),
                 genre_0..genre_18 (one feature each, value = the genre's multi-hot bit)

``ctr_label`` is rating >= 4 (55% of ratings). :func:`user_histories` gives DIN its behaviour
sequences: each rating's previous ``length`` rated items of the same user in time order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kerasdl.data.movielens import AGE_EDGES, GENRES, OCCUPATIONS, MovieLensFeatures, Ratings

USER_FIELDS = ("user", "age", "gender", "occupation", "zip")
ITEM_FIELDS = ("item", "year", *(f"genre_{g}" for g in range(len(GENRES))))
ZIP_BINS, YEAR_BINS, LIKE_THRESHOLD = 64, 10, 4.0


def ctr_label(ratings: Ratings) -> np.ndarray:
    """float32 [N]: 1 where the rating is >= 4 (a "click": the user liked the movie)."""
    return (ratings.rating >= LIKE_THRESHOLD).astype(np.float32)


@dataclass(frozen=True)
class FieldTable:
    """One row per user (or item): global feature ids [N, F] int32 and values [N, F] float32."""

    ids: np.ndarray
    values: np.ndarray


class MovieLensFeaturizer:
    """Adapts the preprocessing layers on ``train`` and encodes users, items and ratings.

    ``vocab_size`` is the size of the global id space; ``field_sizes``/``offsets`` name each
    field's slice of it; ``num_item_ids`` (history/target ids of DIN, 0 = padding) = the item
    field's size + 1.
    """

    def __init__(self, features: MovieLensFeatures, train: Ratings):
        import keras

        if len(train) == 0:
            raise ValueError("cannot adapt the feature columns on an empty training split")
        users, items = np.arange(len(features.age)), np.arange(len(features.year))
        user_lookup = keras.layers.IntegerLookup(vocabulary=np.unique(train.user).astype(np.int64),
                                                 num_oov_indices=1)
        item_lookup = keras.layers.IntegerLookup(vocabulary=np.unique(train.item).astype(np.int64),
                                                 num_oov_indices=1)
        age = keras.layers.Discretization(bin_boundaries=list(AGE_EDGES))
        gender = keras.layers.StringLookup(vocabulary=["M", "F"], num_oov_indices=1)
        occupation = keras.layers.StringLookup(vocabulary=list(OCCUPATIONS), num_oov_indices=1)
        zip_code = keras.layers.Hashing(num_bins=ZIP_BINS)
        year = np.where(np.isfinite(features.year), features.year,
                        np.nanmedian(features.year)).astype(np.float32)
        year_bins = keras.layers.Discretization(num_bins=YEAR_BINS)
        year_bins.adapt(year[train.item])
        occupations = np.asarray(OCCUPATIONS)[features.occupation]
        user_columns = [user_lookup(users), age(features.age), gender(features.gender),
                        occupation(occupations), zip_code(np.asarray([z[:3] for z in features.zip_code]))]
        genre = np.zeros((len(items), len(GENRES)), np.int64)  # one feature per genre field
        item_columns = [item_lookup(items), year_bins(year)]
        sizes = [user_lookup.vocabulary_size(), len(AGE_EDGES) + 1, gender.vocabulary_size(),
                 occupation.vocabulary_size(), ZIP_BINS, item_lookup.vocabulary_size(), YEAR_BINS,
                 *[1] * len(GENRES)]
        self.fields = USER_FIELDS + ITEM_FIELDS
        self.field_sizes = dict(zip(self.fields, sizes))
        self.offsets = dict(zip(self.fields, np.r_[0, np.cumsum(sizes)[:-1]].tolist()))
        self.vocab_size = int(sum(sizes))
        self.num_item_ids = self.field_sizes["item"] + 1
        user_ids = np.stack([np.asarray(c, np.int64) for c in user_columns], 1)
        item_ids = np.concatenate([np.stack([np.asarray(c, np.int64) for c in item_columns], 1),
                                   genre], 1)
        self.users = FieldTable(self._offset(user_ids, USER_FIELDS),
                                np.ones(user_ids.shape, np.float32))
        self.items = FieldTable(self._offset(item_ids, ITEM_FIELDS),
                                np.concatenate([np.ones((len(items), 2), np.float32),
                                                features.genres], 1))
        self._item_local = np.asarray(item_columns[0], np.int32)  # 0 = OOV (cold item)

    def _offset(self, local: np.ndarray, fields) -> np.ndarray:
        if local.min() < 0 or any(local[:, f].max() >= self.field_sizes[n] for f, n in enumerate(fields)):
            raise ValueError("a preprocessing layer produced an id outside its field")
        return (local + np.asarray([self.offsets[n] for n in fields])).astype(np.int32)

    def encode(self, ratings: Ratings) -> tuple[np.ndarray, np.ndarray]:
        """(feature_ids [N, 26] int32, feature_values [N, 26] float32): user fields then item fields."""
        ids = np.concatenate([self.users.ids[ratings.user], self.items.ids[ratings.item]], 1)
        values = np.concatenate([self.users.values[ratings.user], self.items.values[ratings.item]], 1)
        return ids, values

    def item_ids(self, items: np.ndarray) -> np.ndarray:
        """int32 DIN item ids: the item field's local id + 1 (0 is the padding id)."""
        return self._item_local[np.asarray(items)] + 1


def user_histories(ratings: Ratings, rows: np.ndarray, length: int,
                   item_ids=lambda items: np.asarray(items) + 1) -> np.ndarray:
    """int32 [len(rows), length]: for each rating ``rows[r]`` of ``ratings`` (all of them, so a
    test rating sees the user's earlier train/validation/test ratings), the ids
    (``item_ids(item)``) of the user's ``length`` most recent earlier-rated items, oldest first,
    left-padded with 0. Order: by timestamp, ties by row (as the time-ordered split)."""
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    order = np.lexsort((np.arange(len(ratings)), ratings.timestamp, ratings.user))
    user = ratings.user[order]
    starts = np.flatnonzero(np.r_[True, np.diff(user) != 0])
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))  # each position's user start
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    p = position[np.asarray(rows)][:, None] + np.arange(-length, 0)  # [R, length] earlier positions
    valid = p >= first[position[np.asarray(rows)]][:, None]
    ids = np.asarray(item_ids(ratings.item[order][np.where(valid, p, 0)]), np.int32)
    return np.where(valid, ids, 0).astype(np.int32)


def random_split(n: int, seed: int = 0, fractions=(0.8, 0.1, 0.1)) -> dict[str, np.ndarray]:
    """A uniformly random train/validation/test split of ``n`` ratings (the usual MovieLens
    protocol behind the ~0.91-0.93 MF RMSE; users' futures leak into training)."""
    if n < 3 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"need n >= 3 and fractions summing to 1, got {n}, {fractions}")
    order = np.random.default_rng(seed).permutation(n)
    cut = np.cumsum(np.round(np.asarray(fractions[:2]) * n).astype(int))
    return dict(zip(("train", "validation", "test"), np.split(order, cut)))
