"""Metrics Keras lacks: sample quality of generative models (Inception Score, FID), kernel MMD,
filtered link-prediction ranks, top-k recommendation metrics and confidence intervals of a mean over
test episodes.

Names load lazily (no TensorFlow import until used).
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("inception_score", "frechet_distance", "GenerativeEvaluator",
                     "feature_classifier"), "kerasdl.metrics.generative"),
    **dict.fromkeys(("mmd2", "gaussian_kernel_matrix"), "kerasdl.metrics.mmd"),
    **dict.fromkeys(("answer_sets", "filtered_ranks", "rank_summary", "top_k_items",
                     "recommendation_metrics"), "kerasdl.metrics.ranking"),
    "mean_confidence_interval": "kerasdl.metrics.intervals",
    **dict.fromkeys(("rmse", "auc_and_log_loss", "gauc"), "kerasdl.metrics.ctr"),
    **dict.fromkeys(("SegmentationScores", "scores_from_confusion", "segmentation_scores"),
                    "kerasdl.metrics.segmentation"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
