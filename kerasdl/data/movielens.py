"""MovieLens-100k (GroupLens, Harper & Konstan 2015): 100,000 ratings (1-5) of 1,682 movies by
943 users, with timestamps and user/movie features, from recbole's atomic-file copy (see
:mod:`kerasdl.data.sources`). No TensorFlow here; recommender models build their inputs from it.

- ``movielens_100k(split)`` -> :class:`Ratings` (0-based ``user``/``item`` ids, ``rating``,
  ``timestamp``) of ``"train"``, ``"validation"``, ``"test"`` or ``"all"``.
- ``movielens_100k_features()`` -> :class:`MovieLensFeatures`: user age/gender/occupation/zip
  and movie title/release year/genres, with ``user_matrix()``/``item_matrix()`` numeric encodings.

Split protocol (recbole's per-user time-ordered ratio split, "TO" + "RS" [0.8, 0.1, 0.1] grouped
by user): each user's ratings are ordered by timestamp (ties keep the file order); the last
``floor(0.1 n)`` form the test split, the ``floor(0.1 n)`` before them validation, the rest
train. Every user has >= 20 ratings, so every user has >= 2 validation and >= 2 test ratings,
and a model never trains on a user's future. Items may first appear in validation/test (cold).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from kerasdl.data import sources
from kerasdl.registry import DATASETS

SPLITS = ("train", "validation", "test", "all")
HOLDOUT_FRACTION = 0.1  # of each user's ratings, for validation and again for test
GENRES = ("Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
          "Thriller", "War", "Western", "unknown")
OCCUPATIONS = ("administrator", "artist", "doctor", "educator", "engineer", "entertainment",
               "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none",
               "other", "programmer", "retired", "salesman", "scientist", "student", "technician",
               "writer")
AGE_EDGES = (18, 25, 35, 45, 50, 56)  # MovieLens-1M's age groups: <18, 18-24, ..., 56+


@dataclass(frozen=True)
class Ratings:
    """Parallel arrays, one entry per rating; ids are 0-based (recbole token - 1)."""

    user: np.ndarray  # int32
    item: np.ndarray  # int32
    rating: np.ndarray  # float32, 1..5
    timestamp: np.ndarray  # int64, seconds since 1970

    def __len__(self) -> int:
        return len(self.user)


@dataclass(frozen=True)
class MovieLensFeatures:
    """Side information; row i describes user/item id i."""

    age: np.ndarray  # int32 [943]
    gender: np.ndarray  # "M"/"F" [943]
    occupation: np.ndarray  # int32 index into OCCUPATIONS [943]
    zip_code: tuple[str, ...]
    title: tuple[str, ...]  # [1682]
    year: np.ndarray  # float32 release year, NaN where unknown (2 movies)
    genres: np.ndarray  # float32 multi-hot [1682, 19] in GENRES order

    def user_matrix(self) -> np.ndarray:
        """float32 [943, 30]: one-hot age group (7), gender (2), occupation (21)."""
        age = np.eye(len(AGE_EDGES) + 1, dtype=np.float32)[np.searchsorted(AGE_EDGES, self.age, "right")]
        gender = np.stack([self.gender == "M", self.gender == "F"], 1).astype(np.float32)
        occupation = np.eye(len(OCCUPATIONS), dtype=np.float32)[self.occupation]
        return np.concatenate([age, gender, occupation], 1)

    def item_matrix(self) -> np.ndarray:
        """float32 [1682, 21]: genres (19), standardised release year (0 where unknown), and a
        year-unknown flag."""
        known = np.isfinite(self.year)
        mean, std = self.year[known].mean(), self.year[known].std()
        year = np.where(known, (self.year - mean) / std, 0.0).astype(np.float32)
        return np.concatenate([self.genres, year[:, None], (~known)[:, None].astype(np.float32)], 1)


def _rows(path) -> list[list[str]]:
    """recbole atomic file: a typed header line, then tab-separated rows."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or "\t" not in lines[0]:
        raise sources.DataFileError(f"{path} is not a recbole atomic file (no tab-separated header)")
    return [line.split("\t") for line in lines[1:] if line]


@functools.lru_cache(maxsize=1)
def _load() -> tuple[Ratings, MovieLensFeatures, dict[str, np.ndarray]]:
    paths = sources.require("movielens_100k")
    inter = np.asarray(_rows(paths["ml-100k.inter"]), dtype=np.int64)  # user, item, rating, time
    users = sorted(_rows(paths["ml-100k.user"]), key=lambda r: int(r[0]))
    items = sorted(_rows(paths["ml-100k.item"]), key=lambda r: int(r[0]))
    if [int(r[0]) for r in users] != list(range(1, len(users) + 1)) or \
            [int(r[0]) for r in items] != list(range(1, len(items) + 1)):
        raise sources.DataFileError("ml-100k user/item ids are not 1..N; the cached files are not "
                                    "MovieLens-100k")
    ratings = Ratings(user=(inter[:, 0] - 1).astype(np.int32), item=(inter[:, 1] - 1).astype(np.int32),
                      rating=inter[:, 2].astype(np.float32), timestamp=inter[:, 3])
    genres = np.zeros((len(items), len(GENRES)), np.float32)
    for i, row in enumerate(items):
        for genre in row[3].split():
            genres[i, GENRES.index(genre)] = 1.0
    features = MovieLensFeatures(
        age=np.asarray([int(r[1]) for r in users], np.int32),
        gender=np.asarray([r[2] for r in users]),
        occupation=np.asarray([OCCUPATIONS.index(r[3]) for r in users], np.int32),
        zip_code=tuple(r[4] for r in users),
        title=tuple(r[1] for r in items),
        year=np.asarray([float(r[2]) if r[2].isdigit() else np.nan for r in items], np.float32),
        genres=genres)
    return ratings, features, time_ordered_split(ratings.user, ratings.timestamp)


def time_ordered_split(user: np.ndarray, timestamp: np.ndarray,
                       fraction: float = HOLDOUT_FRACTION) -> dict[str, np.ndarray]:
    """Indices of each split under the per-user time-ordered protocol (module docstring): per user,
    the last ``floor(fraction n)`` ratings are test, the ``floor(fraction n)`` before them
    validation. Each index array is sorted by (user, time)."""
    if len(user) == 0 or len(user) != len(timestamp):
        raise ValueError(f"user and timestamp must be non-empty and equally long, got "
                         f"{len(user)} and {len(timestamp)}")
    order = np.lexsort((np.arange(len(user)), timestamp, user))  # by user, then time, then row
    starts = np.flatnonzero(np.r_[True, np.diff(user[order]) != 0])
    counts = np.diff(np.r_[starts, len(order)])
    position = np.arange(len(order)) - np.repeat(starts, counts)  # rank within the user's history
    held = np.repeat(np.floor(fraction * counts).astype(np.int64), counts)
    n = np.repeat(counts, counts)
    part = np.where(position >= n - held, 2, np.where(position >= n - 2 * held, 1, 0))
    return {name: order[part == k] for k, name in enumerate(("train", "validation", "test"))}


@DATASETS.register(
    "movielens_100k", tags=("recommendation", "graph"),
    num_users=943, num_items=1682,
    num_examples={"train": 80_808, "validation": 9_596, "test": 9_596},
    source="MovieLens-100k from PyPI recbole==1.2.1 (recbole/dataset_example/ml-100k); "
           "per-user time-ordered 80/10/10 split",
    license="GroupLens research use (see grouplens.org/datasets/movielens)",
)
def movielens_100k(split: str = "train") -> Ratings:
    """The ratings of one split (or ``"all"``) under the per-user time-ordered protocol."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; valid splits: {', '.join(SPLITS)}.")
    ratings, _, splits = _load()
    if split == "all":
        return ratings
    idx = splits[split]
    return Ratings(*(a[idx] for a in (ratings.user, ratings.item, ratings.rating, ratings.timestamp)))


def movielens_100k_features() -> MovieLensFeatures:
    """User and movie side information (shared, read-only arrays)."""
    return _load()[1]
