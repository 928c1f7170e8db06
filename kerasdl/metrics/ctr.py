"""Click-through-rate and rating metrics: RMSE, AUC and log-loss (Keras' own metrics) and GAUC.

GAUC (Zhou et al. 2018, DIN eq. 6): the AUC of each user's impressions, averaged with weights =
the user's number of impressions, over users with both a positive and a negative impression
(others have no AUC). It measures ranking *within* a user, which a global AUC mixes with how
users differ from one another.
"""
from __future__ import annotations

import numpy as np


def _check(labels, scores):
    labels, scores = np.asarray(labels, np.float64).ravel(), np.asarray(scores, np.float64).ravel()
    if len(labels) != len(scores) or not len(labels):
        raise ValueError(f"labels and scores must be non-empty and equally long, got "
                         f"{len(labels)} and {len(scores)}")
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError("labels must be 0/1")
    return labels, scores


def rmse(targets, predictions) -> float:
    """Root mean squared error (``keras.metrics.RootMeanSquaredError``)."""
    import keras

    metric = keras.metrics.RootMeanSquaredError()
    metric.update_state(np.asarray(targets, np.float32).ravel(), np.asarray(predictions, np.float32).ravel())
    return float(metric.result())


def auc_and_log_loss(labels, probabilities) -> dict[str, float]:
    """ROC AUC (``keras.metrics.AUC``, 10,000 thresholds) and mean binary log-loss of click
    probabilities."""
    import keras

    labels, probabilities = _check(labels, probabilities)
    if not ((probabilities >= 0) & (probabilities <= 1)).all():
        raise ValueError("probabilities must lie in [0, 1] (apply a sigmoid to logits)")
    auc = keras.metrics.AUC(num_thresholds=10_000)
    auc.update_state(labels, probabilities)
    p = np.clip(probabilities, 1e-7, 1 - 1e-7)
    log_loss = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    return {"auc": float(auc.result()), "log_loss": float(log_loss)}


def _rank_auc(labels, scores) -> float:
    """Exact AUC by the Mann-Whitney rank sum (ties count one half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_scores) != 0])
    ends = np.r_[starts[1:], len(scores)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # mean 1-based rank of ties
    positives = labels.sum()
    negatives = len(labels) - positives
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def gauc(users, labels, scores) -> dict[str, float]:
    """``{"gauc", "users", "impressions"}``: the impression-weighted mean of per-user AUCs over
    the users with both classes, and how many users/impressions that covers."""
    labels, scores = _check(labels, scores)
    users = np.asarray(users).ravel()
    if len(users) != len(labels):
        raise ValueError(f"users has {len(users)} entries, labels {len(labels)}")
    order = np.argsort(users, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(users[order]) != 0, True])
    total, weight, counted = 0.0, 0, 0
    for start, end in zip(bounds[:-1], bounds[1:]):
        rows = order[start:end]
        y = labels[rows]
        if 0 < y.sum() < len(y):
            total += len(y) * _rank_auc(y, scores[rows])
            weight += len(y)
            counted += 1
    if not counted:
        raise ValueError("no user has both a positive and a negative impression")
    return {"gauc": total / weight, "users": counted, "impressions": weight}
