"""The graph Fourier transform and spectral filters (the curriculum's spectral GCN).

``L = U diag(lambda) U^T`` (``L`` symmetric); the eigenvalues are the graph's spectrum and the
eigenvectors its Fourier modes. The transform is ``x^ = U^T x``, the inverse ``x = U x^``.

Eigenvalue order: :func:`fourier_basis` returns them **ascending** (numpy's ``eigh``, and the
usual convention of graph signal processing: ``lambda_1 = 0`` is the constant, lowest-frequency
mode). The curriculum lists them from large to small; ``descending=True`` gives that order. The
order only permutes the columns of ``U`` (and the entries of ``x^``); the transform pair is the
same either way.

A spectral filter ``y = U diag(h(lambda)) U^T x`` with a polynomial response
``h(lambda) = sum_k alpha_k lambda^k`` equals ``sum_k alpha_k L^k x`` — no eigendecomposition,
and ``K``-hop local (:func:`polynomial_filter`). ChebNet uses Chebyshev polynomials of the scaled
Laplacian instead of monomials (:func:`chebyshev_filter`): the same family, better conditioned.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix, np.float64)


def fourier_basis(lap, descending: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(eigenvalues [n], U [n, n])`` of a symmetric Laplacian, ascending unless ``descending``."""
    dense = _dense(lap)
    if dense.ndim != 2 or dense.shape[0] != dense.shape[1] or not np.allclose(dense, dense.T):
        raise ValueError("the graph Fourier basis needs a symmetric (undirected) Laplacian")
    values, vectors = np.linalg.eigh(dense)
    if descending:
        values, vectors = values[::-1], vectors[:, ::-1]
    return values, vectors


def graph_fourier_transform(x, basis: np.ndarray) -> np.ndarray:
    """``x^ = U^T x`` for a signal ``x`` [n] or [n, F]."""
    return basis.T @ np.asarray(x, np.float64)


def inverse_graph_fourier_transform(x_hat, basis: np.ndarray) -> np.ndarray:
    """``x = U x^``."""
    return basis @ np.asarray(x_hat, np.float64)


def spectral_filter(x, eigenvalues, basis, response) -> np.ndarray:
    """``U diag(response(lambda)) U^T x``: filter ``x`` in the Fourier domain."""
    gains = np.asarray(response(np.asarray(eigenvalues)), np.float64)
    x_hat = graph_fourier_transform(x, basis)
    return inverse_graph_fourier_transform(gains.reshape(-1, *[1] * (x_hat.ndim - 1)) * x_hat, basis)


def polynomial_filter(lap, x, alphas) -> np.ndarray:
    """``sum_k alphas[k] L^k x`` by Horner's rule (``len(alphas) - 1`` sparse products)."""
    alphas = list(alphas)
    if not alphas:
        raise ValueError("a polynomial filter needs at least one coefficient")
    x = np.asarray(x, np.float64)
    out = alphas[-1] * x
    for alpha in reversed(alphas[:-1]):
        out = lap @ out + alpha * x
    return np.asarray(out)


def chebyshev_filter(scaled_lap, x, thetas) -> np.ndarray:
    """``sum_k thetas[k] T_k(L~) x`` with ``T_0 = x``, ``T_1 = L~ x``, ``T_k = 2 L~ T_{k-1} - T_{k-2}``."""
    thetas = list(thetas)
    if not thetas:
        raise ValueError("a Chebyshev filter needs at least one coefficient")
    previous, current = None, np.asarray(x, np.float64)
    out = thetas[0] * current
    for k, theta in enumerate(thetas[1:], start=1):
        previous, current = current, (scaled_lap @ current if k == 1 else
                                      2.0 * (scaled_lap @ current) - previous)
        out = out + theta * current
    return np.asarray(out)
