"""Metrics Keras lacks: sample quality of generative models (Inception Score, FID), kernel MMD,
confidence intervals of a mean over test episodes.

Names load lazily (no TensorFlow import until used).
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("inception_score", "frechet_distance", "GenerativeEvaluator",
                     "feature_classifier"), "kerasdl.metrics.generative"),
    **dict.fromkeys(("mmd2", "gaussian_kernel_matrix"), "kerasdl.metrics.mmd"),
    "mean_confidence_interval": "kerasdl.metrics.intervals",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
