"""Training: the compiled custom-loop Trainer, precision and strategy policies, history."""
from kerasdl.train.precision import precision_scope, resolve_precision  # noqa: F401
from kerasdl.train.strategy import resolve_strategy, split_cpu  # noqa: F401
from kerasdl.train.trainer import Trainer, TrainingDivergedError, per_example_loss  # noqa: F401
