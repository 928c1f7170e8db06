"""Graph Laplacians of an undirected (symmetric, non-negative) adjacency matrix.

- combinatorial ``L = D - A`` (the curriculum's), ``D = diag(d_1, ..., d_n)``, ``d_i = sum_j A_ij``;
- symmetric normalised ``L_sym = I - D^-1/2 A D^-1/2`` (Kipf & Welling, ChebNet);
- random walk ``L_rw = I - D^-1 A``.

An isolated node (``d_i = 0``) gets a zero row in the normalised forms (``D^-1/2`` is taken as 0
there, as networkx does). :func:`scaled_laplacian` maps the spectrum into ``[-1, 1]`` for
Chebyshev polynomials: ``L~ = 2 L / lambda_max - I`` (Defferrard et al., 2016).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

KINDS = ("combinatorial", "symmetric", "random_walk")


def _square(adjacency):
    a = sp.csr_matrix(adjacency, dtype=np.float64)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"an adjacency matrix is square, got shape {a.shape}")
    return a


def degrees(adjacency) -> np.ndarray:
    """Row sums ``d_i = sum_j A_ij`` (out-degrees, or weighted strengths)."""
    return np.asarray(_square(adjacency).sum(axis=1)).ravel()


def _inverse(values, power):
    out = np.zeros_like(values)
    positive = values > 0
    out[positive] = values[positive] ** power
    return out


def laplacian(adjacency, kind: str = "combinatorial", dense: bool = True):
    """The ``kind`` Laplacian (one of ``KINDS``) of a symmetric adjacency matrix."""
    if kind not in KINDS:
        raise ValueError(f"unknown Laplacian kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    a = _square(adjacency)
    if (a != a.T).nnz or (a.data < 0).any():
        raise ValueError("the Laplacian needs an undirected graph: a symmetric adjacency matrix "
                         "with non-negative weights (kerasdl.graph.to_undirected makes one)")
    d = degrees(a)
    if kind == "combinatorial":
        lap = sp.diags(d) - a
    elif kind == "symmetric":
        s = sp.diags(_inverse(d, -0.5))
        lap = sp.diags((d > 0).astype(float)) - s @ a @ s
    else:
        lap = sp.diags((d > 0).astype(float)) - sp.diags(_inverse(d, -1.0)) @ a
    return lap.toarray() if dense else sp.csr_matrix(lap)


def largest_eigenvalue(lap) -> float:
    """lambda_max of a symmetric Laplacian (dense eigvalsh for small graphs, Lanczos otherwise)."""
    n = lap.shape[0]
    if n <= 512:
        dense = lap.toarray() if sp.issparse(lap) else np.asarray(lap)
        return float(np.linalg.eigvalsh(dense)[-1])
    return float(spla.eigsh(sp.csr_matrix(lap), k=1, which="LA", return_eigenvectors=False)[0])


def scaled_laplacian(lap, lambda_max: float | None = None):
    """``2 L / lambda_max - I``: the spectrum of ``L`` in ``[0, lambda_max]`` becomes ``[-1, 1]``.

    ``lambda_max=None`` computes it; 2 is the usual bound for ``L_sym`` (and what ChebConv uses).
    """
    lam = largest_eigenvalue(lap) if lambda_max is None else float(lambda_max)
    if lam <= 0:
        raise ValueError(f"lambda_max must be positive (a graph with edges), got {lam}")
    eye = sp.identity(lap.shape[0]) if sp.issparse(lap) else np.eye(lap.shape[0])
    return 2.0 * lap / lam - eye
