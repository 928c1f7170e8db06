"""Kernel maximum mean discrepancy (MMD²) with a sum of Gaussian kernels, in TF ops (XLA-friendly).

    MMD²(X, Y) = ||mean φ(x) − mean φ(y)||²
               = mean_{i,i'} k(x_i, x_i') − 2·mean_{i,j} k(x_i, y_j) + mean_{j,j'} k(y_j, y_j')

with ``k(x, y) = Σ_σ exp(−||x − y||² / (2σ²))`` (Gretton et al., 2012; the GMMN of Li et al., 2015
uses σ ∈ {2, 5, 10, 20, 40, 80} on [0, 1] MNIST pixels). The curriculum's expansion writes the cross
term as ``−1/(NM) Σ k(x_i, y_j)``: it lacks the factor 2 (the square of a difference of two means).

The unbiased U-statistic leaves the diagonal ``k(x_i, x_i)`` out of the within-set means (divisors
``N(N−1)`` and ``M(M−1)``); it is 0 in expectation when X and Y come from the same distribution and
can then be slightly negative. The biased V-statistic keeps the diagonal and is always >= 0.
"""
from __future__ import annotations

import tensorflow as tf

__all__ = ["DEFAULT_SIGMAS", "gaussian_kernel_matrix", "mmd2"]

DEFAULT_SIGMAS = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)


def _flat(x):
    """``[N, ...]`` -> float32 ``[N, D]``."""
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, [tf.shape(x)[0], -1])


def squared_distances(x, y):
    """``[N, M]`` squared Euclidean distances between the rows of flattened ``x`` and ``y``
    (by ``|x|² + |y|² − 2 x·y``, one matmul; clipped at 0 against rounding)."""
    x, y = _flat(x), _flat(y)
    xx = tf.reduce_sum(tf.square(x), axis=1, keepdims=True)
    yy = tf.reduce_sum(tf.square(y), axis=1, keepdims=True)
    return tf.maximum(xx - 2.0 * tf.matmul(x, y, transpose_b=True) + tf.transpose(yy), 0.0)


def gaussian_kernel_matrix(x, y, sigmas=DEFAULT_SIGMAS):
    """``K[i, j] = Σ_σ exp(−||x_i − y_j||² / (2σ²))`` for ``x`` ``[N, ...]`` and ``y`` ``[M, ...]``."""
    sigmas = tf.reshape(tf.constant(sigmas, tf.float32), [-1, 1, 1])
    d = squared_distances(x, y)
    return tf.reduce_sum(tf.exp(-tf.expand_dims(d, 0) / (2.0 * tf.square(sigmas))), axis=0)


def mmd2(x, y, sigmas=DEFAULT_SIGMAS, unbiased: bool = True):
    """Scalar MMD² between samples ``x`` ``[N, ...]`` and ``y`` ``[M, ...]`` (see the module doc).

    ``unbiased=True`` needs N, M >= 2."""
    k_xx = gaussian_kernel_matrix(x, x, sigmas)
    k_yy = gaussian_kernel_matrix(y, y, sigmas)
    k_xy = gaussian_kernel_matrix(x, y, sigmas)
    n = tf.cast(tf.shape(k_xx)[0], tf.float32)
    m = tf.cast(tf.shape(k_yy)[0], tf.float32)
    if unbiased:
        xx = (tf.reduce_sum(k_xx) - tf.linalg.trace(k_xx)) / (n * (n - 1.0))
        yy = (tf.reduce_sum(k_yy) - tf.linalg.trace(k_yy)) / (m * (m - 1.0))
    else:
        xx, yy = tf.reduce_mean(k_xx), tf.reduce_mean(k_yy)
    return xx - 2.0 * tf.reduce_mean(k_xy) + yy
