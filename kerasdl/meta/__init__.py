"""Meta-learning: MAML/FOMAML (gradient-based, functional inner loop) and Prototypical Networks
(metric-based), both on the kerasdl Trainer; adaptation curves and few-shot baselines.

Names load lazily, so ``import kerasdl.meta`` does not import TensorFlow.
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("functional_call", "inner_loop", "adaptation_curve", "adaptation_curves_fn",
                     "map_tasks"),
                    "kerasdl.meta.adaptation"),
    "MAMLTrainer": "kerasdl.meta.maml",
    **dict.fromkeys(("PrototypicalTrainer", "PrototypicalLoss", "prototypical_loss",
                     "class_prototypes", "squared_distances", "episode_accuracy"),
                    "kerasdl.meta.prototypical"),
    **dict.fromkeys(("fit_linear_heads", "linear_head_accuracy"), "kerasdl.meta.baselines"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
