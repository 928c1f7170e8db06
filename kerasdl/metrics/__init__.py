"""Metrics Keras lacks: sample quality of generative models (Inception Score, FID) and kernel MMD.

Names load lazily (no TensorFlow import until used).
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("inception_score", "frechet_distance", "GenerativeEvaluator",
                     "feature_classifier"), "kerasdl.metrics.generative"),
    **dict.fromkeys(("mmd2", "gaussian_kernel_matrix"), "kerasdl.metrics.mmd"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
