"""Random walks with restart on a graph in CSR form, the importance sampler of PinSage
(Ying et al. 2018) and Pixie (Eksombatchai et al. 2018). numpy only.

A walk from source s stops with probability ``restart_prob`` (α) before each step, else moves to
a uniformly random neighbour. Counting every visit (the start included) over many such walks, the
expected count of node v per walk is [s (I - (1-α) P)^{-1}]_v = π_s(v) / α, where π_s is the
personalised PageRank of s with restart α and P = D^{-1} A; so normalised visit counts estimate
π_s (checked against :func:`personalized_pagerank` in the tests). PinSage takes a node's T most
visited nodes as its neighbourhood and their normalised counts as the aggregation weights, and
draws hard negatives from lower-ranked nodes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CSRGraph:
    """An undirected, unweighted graph: node v's neighbours are ``indices[indptr[v]:indptr[v+1]]``."""

    indptr: np.ndarray
    indices: np.ndarray

    @property
    def num_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    @classmethod
    def from_edges(cls, sources, targets, num_nodes: int) -> "CSRGraph":
        """Both directions of every edge; duplicate edges are kept once."""
        s, t = np.asarray(sources, np.int64), np.asarray(targets, np.int64)
        if s.shape != t.shape or (len(s) and (min(s.min(), t.min()) < 0 or max(s.max(), t.max()) >= num_nodes)):
            raise ValueError(f"sources and targets must be equally long node ids in [0, {num_nodes})")
        keys = np.unique(np.concatenate([s * num_nodes + t, t * num_nodes + s]))
        rows, cols = np.divmod(keys, num_nodes)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=num_nodes))])
        return cls(indptr.astype(np.int64), cols.astype(np.int64))

    def transition_matrix(self) -> np.ndarray:
        """Dense row-stochastic P = D^{-1} A (rows of isolated nodes are zero). Small graphs only."""
        p = np.zeros((self.num_nodes, self.num_nodes))
        for v in range(self.num_nodes):
            neighbours = self.indices[self.indptr[v]:self.indptr[v + 1]]
            if len(neighbours):
                p[v, neighbours] = 1.0 / len(neighbours)
        return p


def bipartite_graph(users, items, num_users: int, num_items: int) -> CSRGraph:
    """The user–item graph: node u is user u, node ``num_users + i`` is item i."""
    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    if len(users) and (users.max() >= num_users or items.max() >= num_items or min(users.min(), items.min()) < 0):
        raise ValueError(f"user ids must be in [0, {num_users}) and item ids in [0, {num_items})")
    return CSRGraph.from_edges(users, num_users + items, num_users + num_items)


def visit_counts(graph: CSRGraph, sources, *, num_walks: int, restart_prob: float, seed: int = 0,
                 max_steps: int | None = None) -> np.ndarray:
    """float32 [len(sources), num_nodes]: visits of ``num_walks`` walks with restart from each source.

    Walks are truncated after ``max_steps`` steps (default: where the survival probability
    (1-α)^steps falls below 1e-6). An isolated node ends its walk.
    """
    if not 0.0 < restart_prob < 1.0:
        raise ValueError(f"restart_prob must be in (0, 1), got {restart_prob}")
    if num_walks < 1:
        raise ValueError(f"num_walks must be >= 1, got {num_walks}")
    sources = np.asarray(sources, np.int64)
    if len(sources) and (sources.min() < 0 or sources.max() >= graph.num_nodes):
        raise ValueError(f"sources must be node ids in [0, {graph.num_nodes})")
    if max_steps is None:
        max_steps = math.ceil(math.log(1e-6) / math.log(1.0 - restart_prob))
    rng = np.random.default_rng(seed)
    n = graph.num_nodes
    owner = np.repeat(np.arange(len(sources), dtype=np.int64), num_walks)
    position = np.repeat(sources, num_walks)
    visits = [owner * n + position]
    degree = graph.degree
    alive = np.arange(len(position))
    for _ in range(max_steps):
        alive = alive[(rng.random(len(alive)) >= restart_prob) & (degree[position[alive]] > 0)]
        if not len(alive):
            break
        here = position[alive]
        offset = (rng.random(len(alive)) * degree[here]).astype(np.int64)
        position[alive] = graph.indices[graph.indptr[here] + offset]
        visits.append(owner[alive] * n + position[alive])
    counts = np.bincount(np.concatenate(visits), minlength=len(sources) * n)
    return counts.reshape(len(sources), n).astype(np.float32)


def personalized_pagerank(graph: CSRGraph, source: int, restart_prob: float) -> np.ndarray:
    """Exact π_s = α e_s (I - (1-α) P)^{-1} by a dense linear solve (small graphs; for tests).
    With an isolated node on the walk, π sums to less than 1 (walks end there)."""
    p = graph.transition_matrix()
    start = np.zeros(graph.num_nodes)
    start[source] = 1.0
    return restart_prob * np.linalg.solve((np.eye(graph.num_nodes) - (1 - restart_prob) * p).T, start)


def top_visited(counts: np.ndarray, num_neighbors: int, exclude: np.ndarray | None = None):
    """Each row's ``num_neighbors`` most visited columns and their normalised counts (PinSage's
    importance neighbourhood and pooling weights; the weights of a row sum to 1, or are all 0
    when nothing was visited). ``exclude`` [rows] drops one column per row (the source itself).
    Rows with fewer visited columns are padded with column 0 at weight 0. Ties: lower column."""
    counts = np.array(counts, np.float64)
    if not 1 <= num_neighbors <= counts.shape[1]:
        raise ValueError(f"num_neighbors must be in [1, {counts.shape[1]}], got {num_neighbors}")
    if exclude is not None:
        counts[np.arange(len(counts)), np.asarray(exclude)] = 0.0
    order = np.argsort(-counts, axis=1, kind="stable")[:, :num_neighbors]
    top = np.take_along_axis(counts, order, axis=1)
    total = top.sum(1, keepdims=True)
    weights = np.divide(top, total, out=np.zeros_like(top), where=total > 0)
    return np.where(top > 0, order, 0).astype(np.int32), weights.astype(np.float32)


def ranked_band(counts: np.ndarray, exclude: list[np.ndarray], band: tuple[int, int],
                seed: int = 0) -> np.ndarray:
    """int32 [rows, hi - lo]: the columns ranked ``lo..hi-1`` by count in each row after dropping
    ``exclude[row]`` (a user's own items) — PinSage's hard negatives, related to the query but
    not positives. Ties (e.g. never-visited columns) are ordered at random (``seed``)."""
    lo, hi = band
    counts = np.array(counts, np.float64)
    if not 0 <= lo < hi <= counts.shape[1]:
        raise ValueError(f"band must satisfy 0 <= lo < hi <= {counts.shape[1]}, got {band}")
    if len(exclude) != len(counts):
        raise ValueError(f"exclude must hold one array per row: {len(exclude)} vs {len(counts)}")
    for row, cols in enumerate(exclude):
        counts[row, np.asarray(cols, np.int64)] = -np.inf
    if max((len(c) for c in exclude), default=0) > counts.shape[1] - hi:
        raise ValueError(f"a row excludes so many columns that fewer than {hi} remain")
    jitter = np.random.default_rng(seed).random(counts.shape)  # random order among equal counts
    order = np.lexsort((jitter, -counts), axis=1)
    return order[:, lo:hi].astype(np.int32)


def bipartite_importance(users, items, num_users: int, num_items: int, *, num_neighbors: int,
                         num_walks: int, restart_prob: float, seed: int = 0) -> dict[str, np.ndarray]:
    """PinSage's neighbourhoods on the user–item graph of (users[k], items[k]) interactions.

    Returns ``item_neighbors``/``item_weights`` [num_items, T] (the T items most visited from
    each item, itself excluded), ``user_neighbors``/``user_weights`` [num_users, T] (from each
    user), and ``user_item_visits`` [num_users, num_items] (the counts, for hard negatives).
    """
    graph = bipartite_graph(users, items, num_users, num_items)
    walks = dict(num_walks=num_walks, restart_prob=restart_prob)
    from_items = visit_counts(graph, num_users + np.arange(num_items), seed=seed, **walks)[:, num_users:]
    from_users = visit_counts(graph, np.arange(num_users), seed=seed + 1, **walks)[:, num_users:]
    item_neighbors, item_weights = top_visited(from_items, num_neighbors, exclude=np.arange(num_items))
    user_neighbors, user_weights = top_visited(from_users, num_neighbors)
    return {"item_neighbors": item_neighbors, "item_weights": item_weights,
            "user_neighbors": user_neighbors, "user_weights": user_weights,
            "user_item_visits": from_users}
