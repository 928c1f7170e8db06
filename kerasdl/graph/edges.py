"""Edge lists and padded batches of graphs: the data form every kerasdl graph layer takes.

An edge list is an int array ``[E, 2]`` of ``(source, target)`` rows with node ids in ``[0, N)``;
messages flow source -> target, so an undirected graph lists each edge in both directions
(:func:`to_undirected`). The adjacency matrix of an edge list has ``A[source, target] = 1``
(networkx's convention for directed graphs); for undirected graphs it is symmetric.

A batch of graphs of different sizes is padded (:func:`pad_graphs`): node features to
``[B, N, F]`` with a node mask ``[B, N]``, edge lists to ``[B, E, 2]`` with ``-1`` rows, which
the layers ignore (see :mod:`kerasdl.layers.graph`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

PAD = -1


def check_edges(edges, num_nodes: int) -> np.ndarray:
    """``edges`` as an int32 ``[E, 2]`` array, after checking its shape and node ids."""
    edges = np.asarray(edges)
    if edges.size == 0:
        return np.zeros((0, 2), np.int32)
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"edges must have shape [E, 2] (source, target), got {edges.shape}")
    if not np.issubdtype(edges.dtype, np.integer):
        raise ValueError(f"edges must hold integer node ids, got dtype {edges.dtype}")
    if num_nodes < 1:
        raise ValueError(f"a graph with edges needs num_nodes >= 1, got {num_nodes}")
    bad = (edges < 0) | (edges >= num_nodes)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise ValueError(f"edge {row} = {edges[row].tolist()} has a node id outside "
                         f"[0, {num_nodes}) (num_nodes={num_nodes})")
    return edges.astype(np.int32)


def to_undirected(edges, num_nodes: int) -> np.ndarray:
    """Both directions of every edge, self-loops dropped, each (source, target) once, sorted."""
    edges = check_edges(edges, num_nodes)
    both = np.concatenate([edges, edges[:, ::-1]])
    both = both[both[:, 0] != both[:, 1]]
    return np.unique(both, axis=0).astype(np.int32)


def adjacency_matrix(edges, num_nodes: int, weights=None) -> sp.csr_matrix:
    """Sparse ``A[source, target] = weight`` (1 without weights); repeated edges add up."""
    edges = check_edges(edges, num_nodes)
    values = np.ones(len(edges)) if weights is None else np.asarray(weights, np.float64)
    if values.shape != (len(edges),):
        raise ValueError(f"weights must have one value per edge ({len(edges)}), got {values.shape}")
    return sp.csr_matrix((values, (edges[:, 0], edges[:, 1])), shape=(num_nodes, num_nodes))


def edges_from_adjacency(adjacency) -> tuple[np.ndarray, np.ndarray]:
    """``(edges [E, 2] int32, weights [E])`` of the non-zero entries of a dense or sparse matrix."""
    a = sp.coo_matrix(adjacency)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"an adjacency matrix is square, got shape {a.shape}")
    order = np.lexsort((a.col, a.row))
    return np.stack([a.row, a.col], 1)[order].astype(np.int32), a.data[order]


@dataclass
class Graph:
    """One graph: ``num_nodes``, an ``edges [E, 2]`` list, and whatever labels it carries."""

    num_nodes: int
    edges: np.ndarray  # [E, 2] int32 (source, target)
    node_labels: np.ndarray | None = None  # [N] int32
    edge_weights: np.ndarray | None = None  # [E] float
    edge_labels: np.ndarray | None = None  # [E] int32
    graph_label: int | None = None

    def __post_init__(self):
        self.edges = check_edges(self.edges, self.num_nodes)
        for name in ("edge_weights", "edge_labels"):
            value = getattr(self, name)
            if value is not None and len(value) != len(self.edges):
                raise ValueError(f"{name} has {len(value)} entries for {len(self.edges)} edges")
        if self.node_labels is not None and len(self.node_labels) != self.num_nodes:
            raise ValueError(f"node_labels has {len(self.node_labels)} entries for "
                             f"{self.num_nodes} nodes")

    def undirected(self) -> np.ndarray:
        """Both directions of every edge (:func:`to_undirected`)."""
        return to_undirected(self.edges, self.num_nodes)


@dataclass
class GraphBatch:
    """Graphs padded to a common size: the inputs of kerasdl's graph models."""

    node_features: np.ndarray  # [B, N, F] float32, zeros on padded nodes
    edges: np.ndarray  # [B, E, 2] int32, node ids local to each graph, -1 rows are padding
    node_mask: np.ndarray  # [B, N] float32, 1 for real nodes

    def inputs(self, with_mask: bool = False) -> tuple:
        """The model inputs: ``(node_features, edges)`` or ``(node_features, edges, node_mask)``."""
        base = (self.node_features, self.edges)
        return (*base, self.node_mask) if with_mask else base


def pad_graphs(graphs, num_nodes: int | None = None, num_edges: int | None = None) -> GraphBatch:
    """Pad ``[(node_features [n, F], edges [e, 2]), ...]`` into one :class:`GraphBatch`.

    ``num_nodes``/``num_edges`` fix the padded sizes (default: the largest graph's), so that
    every batch has the same shapes and a compiled step is traced once.
    """
    graphs = list(graphs)
    if not graphs:
        raise ValueError("pad_graphs needs at least one graph")
    feats = [np.asarray(x, np.float32) for x, _ in graphs]
    if any(x.ndim != 2 for x in feats) or len({x.shape[1] for x in feats}) != 1:
        raise ValueError(f"node features must be [n, F] with one F for all graphs, got shapes "
                         f"{sorted({x.shape for x in feats})[:4]}")
    edge_lists = [check_edges(e, len(x)) for x, (_, e) in zip(feats, graphs)]
    n_max = max(len(x) for x in feats) if num_nodes is None else num_nodes
    e_max = max(len(e) for e in edge_lists) if num_edges is None else num_edges
    too_big = [i for i, (x, e) in enumerate(zip(feats, edge_lists)) if len(x) > n_max or len(e) > e_max]
    if too_big:
        i = too_big[0]
        raise ValueError(f"graph {i} has {len(feats[i])} nodes and {len(edge_lists[i])} edges, "
                         f"more than the padded size ({n_max} nodes, {e_max} edges)")
    batch = len(graphs)
    x = np.zeros((batch, n_max, feats[0].shape[1]), np.float32)
    edges = np.full((batch, e_max, 2), PAD, np.int32)
    mask = np.zeros((batch, n_max), np.float32)
    for b, (f, e) in enumerate(zip(feats, edge_lists)):
        x[b, :len(f)], edges[b, :len(e)], mask[b, :len(f)] = f, e, 1.0
    return GraphBatch(x, edges, mask)
