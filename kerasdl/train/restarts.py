"""Train one compiled Trainer again from scratch: many seeds or CV folds, one trace.

Building a model and a Trainer per seed retraces (and, with XLA, recompiles) the train step each
time, which dominates small-graph runs. :class:`Restarts` keeps one model and Trainer and, per
restart, copies a freshly built model's variables (weights, dropout RNG states) into the trained
model and resets the optimizer to its state before the first step (iterations, moments; so LR
schedules restart too).
"""
from __future__ import annotations


class Restarts:
    """``restarts = Restarts(trainer)``, then ``restarts.reset(build())`` before each run."""

    def __init__(self, trainer):
        self.trainer = trainer
        self._optimizer_state = {name: [v.numpy() for v in opt.variables]
                                 for name, opt in trainer.optimizers.items()}

    def reset(self, fresh_model) -> None:
        """Take ``fresh_model``'s initial variables (same architecture) and the initial
        optimizer state."""
        model = self.trainer.model
        if len(fresh_model.variables) != len(model.variables) or any(
                a.shape != b.shape for a, b in zip(model.variables, fresh_model.variables)):
            raise ValueError(f"{fresh_model.name!r} does not match the trained model "
                             f"{model.name!r}: build the same architecture")
        for variable, value in zip(model.variables, fresh_model.variables):
            variable.assign(value)
        for name, opt in self.trainer.optimizers.items():
            for variable, value in zip(opt.variables, self._optimizer_state[name]):
                variable.assign(value)
