"""Confidence intervals of a mean over test episodes (few-shot papers report mean ± 1.96·s/√n)."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mean_confidence_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """(mean, half-width) of the normal-approximation interval mean ± z·s/√n (s: sample std)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2:
        raise ValueError(f"need at least 2 values for an interval, got {values.size}")
    if not np.isfinite(values).all():
        raise ValueError("values contain NaN or inf")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = stats.norm.ppf(0.5 + confidence / 2)
    return float(values.mean()), float(z * values.std(ddof=1) / math.sqrt(values.size))
