"""Ranking metrics (numpy): filtered link-prediction ranks (MRR, hits@k) and top-k
recommendation metrics (recall@k, NDCG@k, hits@k).

Filtered ranking (Bordes et al. 2013): the rank of the true answer of a query (h, r, ?) among all
entities, after removing the *other* known true answers (from train, valid and test) from the
candidates. Ties are counted as in Berrendorf et al. 2020 ("realistic" rank): the mean of the
optimistic and pessimistic ranks, 1 + #higher + #tied/2, so a constant scorer gets the expected
rank of a random order, not rank 1.
"""
from __future__ import annotations

import numpy as np


_NONE = np.zeros(0, np.int64)


def answer_sets(queries: np.ndarray, answers: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """``(entity, relation)`` -> sorted array of every known answer entity."""
    sets: dict[tuple[int, int], set] = {}
    for (e, r), a in zip(np.asarray(queries).tolist(), np.asarray(answers).tolist()):
        sets.setdefault((e, r), set()).add(a)
    return {k: np.asarray(sorted(v), np.int64) for k, v in sets.items()}


def filtered_ranks(scores: np.ndarray, queries: np.ndarray, targets: np.ndarray,
                   known: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
    """float64 [Q] realistic filtered rank of ``targets[q]`` among ``scores[q]`` ([Q, E]).

    ``known`` (from :func:`answer_sets` over all true triples) lists each query's true answers;
    all of them but the target are removed from the ranking.
    """
    scores = np.asarray(scores, np.float64)
    targets = np.asarray(targets)
    if scores.ndim != 2 or len(scores) != len(targets) or len(queries) != len(targets):
        raise ValueError(f"scores must be [Q, E] with Q = len(queries) = len(targets); got "
                         f"{scores.shape}, {len(queries)} queries, {len(targets)} targets")
    if len(targets) and (targets.min() < 0 or targets.max() >= scores.shape[1]):
        raise ValueError(f"targets must be entity ids in [0, {scores.shape[1]})")
    ranks = np.empty(len(targets))
    for q, ((e, r), t) in enumerate(zip(np.asarray(queries).tolist(), targets.tolist())):
        row = scores[q]
        mask = np.ones(len(row), bool)
        mask[known.get((e, r), _NONE)] = False  # (an empty tuple would index every entry)
        mask[t] = True
        target = row[t]
        higher = np.count_nonzero(row[mask] > target)
        tied = np.count_nonzero(row[mask] == target) - 1  # the target itself
        ranks[q] = 1.0 + higher + tied / 2.0
    return ranks


def rank_summary(ranks: np.ndarray, ks=(1, 3, 10)) -> dict[str, float]:
    """MRR, mean rank and hits@k of an array of ranks."""
    ranks = np.asarray(ranks, np.float64)
    if ranks.size == 0:
        raise ValueError("no ranks to summarise")
    return {"mrr": float(np.mean(1.0 / ranks)), "mean_rank": float(ranks.mean()),
            **{f"hits@{k}": float(np.mean(ranks <= k)) for k in ks}}


def top_k_items(scores: np.ndarray, exclude: list[np.ndarray], k: int) -> np.ndarray:
    """int [U, k]: each row's k highest-scoring items, best first, never an ``exclude[u]`` item
    (items a user already interacted with). Ties go to the lower item id."""
    scores = np.array(scores, np.float64)  # a copy: excluded items are set to -inf
    if len(exclude) != len(scores):
        raise ValueError(f"exclude must hold one array per row: {len(exclude)} vs {len(scores)}")
    if not 0 < k <= scores.shape[1]:
        raise ValueError(f"k must be in [1, {scores.shape[1]}], got {k}")
    for u, items in enumerate(exclude):
        scores[u, np.asarray(items, np.int64)] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :k]


def recommendation_metrics(top: np.ndarray, relevant: list[np.ndarray], ks=(5, 10, 20)) -> dict:
    """recall@k, NDCG@k (binary relevance) and hits@k, averaged over rows with a relevant item.

    ``top`` [U, >= max(ks)] is the ranked recommendation list of each row; ``relevant[u]`` the
    held-out items. recall@k = |top_k ∩ rel| / |rel|; NDCG@k = DCG/IDCG with
    DCG = Σ_{hits at position p} 1/log2(p + 1) and IDCG the DCG of min(k, |rel|) hits at the top;
    hits@k = 1 if any of the top k is relevant.
    """
    top = np.asarray(top, np.int64)
    if top.ndim != 2 or len(top) != len(relevant):
        raise ValueError(f"top must be [U, K] with one row per relevant set, got {top.shape} "
                         f"and {len(relevant)} sets")
    if max(ks) > top.shape[1]:
        raise ValueError(f"top holds {top.shape[1]} items per row, fewer than k = {max(ks)}")
    rows = np.asarray([u for u, rel in enumerate(relevant) if len(rel)], np.int64)
    if not len(rows):
        raise ValueError("no row has a relevant item")
    width = 1 + max(top.max(), max(int(np.max(relevant[u])) for u in rows))
    is_relevant = np.zeros((len(rows), width), bool)
    for r, u in enumerate(rows):
        is_relevant[r, np.asarray(relevant[u], np.int64)] = True
    hit = np.take_along_axis(is_relevant, top[rows], axis=1)  # [rows, K]
    num_relevant = is_relevant.sum(1)
    discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    ideal = np.cumsum(discount)
    out = {}
    for k in ks:
        hit_k = hit[:, :k]
        out[f"recall@{k}"] = float(np.mean(hit_k.sum(1) / num_relevant))
        out[f"ndcg@{k}"] = float(np.mean((hit_k * discount[:k]).sum(1)
                                         / ideal[np.minimum(k, num_relevant) - 1]))
        out[f"hits@{k}"] = float(np.mean(hit_k.any(1)))
    return out
