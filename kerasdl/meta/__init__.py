"""Meta-learning: MAML/FOMAML (gradient-based, functional inner loop) and Prototypical Networks
(metric-based), both on the kerasdl Trainer; adaptation curves and few-shot baselines.

Names load lazily, so ``import kerasdl.meta`` does not import TensorFlow.
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("functional_call", "inner_loop", "adaptation_curve", "map_tasks"),
                    "kerasdl.meta.adaptation"),
    "MAMLTrainer": "kerasdl.meta.maml",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
