"""Training: the compiled custom-loop Trainer, precision and strategy policies, history, recipes.

Names load lazily, so ``kerasdl.train.classification`` (recipes) is importable without TensorFlow.
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("precision_scope", "resolve_precision"), "kerasdl.train.precision"),
    **dict.fromkeys(("resolve_strategy", "split_cpu"), "kerasdl.train.strategy"),
    **dict.fromkeys(("Trainer", "TrainingDivergedError", "per_example_loss"),
                    "kerasdl.train.trainer"),
    **dict.fromkeys(("GANTrainer", "GAN_OBJECTIVES"), "kerasdl.train.adversarial"),
    **dict.fromkeys(("DQNTrainer", "td_targets"), "kerasdl.train.dqn"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
