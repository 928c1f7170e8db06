"""Node features for graphs that come without any: one-hot ids or labels, and degree statistics."""
from __future__ import annotations

import numpy as np

from kerasdl.graph.edges import check_edges


def one_hot(labels, num_classes: int | None = None) -> np.ndarray:
    """``[N, num_classes]`` float32 one-hot rows of integer ``labels`` (node ids: ``np.arange(N)``)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise ValueError("one_hot needs a vector of non-negative integer labels")
    size = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if len(labels) and labels.max() >= size:
        raise ValueError(f"label {labels.max()} does not fit num_classes={size}")
    return np.eye(size, dtype=np.float32)[labels]


def degree_features(edges, num_nodes: int, weights=None) -> np.ndarray:
    """``[N, 4]`` float32 standardised ``log1p`` of in-degree, out-degree and (with ``weights``)
    weighted in/out strength — per-node statistics a graph-free baseline can use."""
    edges = check_edges(edges, num_nodes)
    w = np.ones(len(edges)) if weights is None else np.asarray(weights, np.float64)
    columns = [np.bincount(edges[:, i], minlength=num_nodes) for i in (1, 0)]
    columns += [np.bincount(edges[:, i], weights=w, minlength=num_nodes) for i in (1, 0)]
    feats = np.log1p(np.stack(columns, 1))
    std = feats.std(0)
    return ((feats - feats.mean(0)) / np.where(std > 0, std, 1.0)).astype(np.float32)
