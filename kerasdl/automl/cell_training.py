"""Stand-alone training of a genotype's network (``darts_network``) on in-memory splits: the cheap
proxy that scores evolution's candidates, and the retraining that compares searched cells with
random ones under one budget. Uses the kerasdl Trainer (AdamW, cosine decay, no XLA: it slows
conv steps on CPU)."""
from __future__ import annotations

import dataclasses
import time

from kerasdl.automl.cell_space import Genotype


@dataclasses.dataclass(frozen=True)
class CellTrainingRecipe:
    channels: int = 8
    cells_per_stage: tuple = (1, 1)
    stem_multiplier: int = 2
    stem_strides: int = 2
    epochs: int = 1
    steps_per_epoch: int | None = 100  # None: one pass over the training split
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def model_kwargs(self, genotype: Genotype, num_classes: int, input_shape) -> dict:
        return {"genotype": Genotype.from_list(genotype).to_list(), "num_classes": num_classes,
                "input_shape": tuple(input_shape), "channels": self.channels,
                "cells_per_stage": tuple(self.cells_per_stage),
                "stem_multiplier": self.stem_multiplier, "stem_strides": self.stem_strides}


def train_cell(genotype, train, recipe: CellTrainingRecipe = CellTrainingRecipe(), *,
               evaluate: dict | None = None, num_classes: int = 10, verbose: int = 0,
               return_model: bool = False):
    """Train the network of ``genotype`` on ``train`` = (x, y), then score it on each split of
    ``evaluate`` (``{"val": (x, y), ...}``); returns ``{"<split>_accuracy", "params", "steps",
    "seconds"}`` (and the model when ``return_model``)."""
    import keras

    from kerasdl.data.pipelines import from_arrays
    from kerasdl.registry import create_model
    from kerasdl.train.trainer import Trainer

    x, y = train
    steps = recipe.steps_per_epoch or len(x) // recipe.batch_size
    keras.utils.set_random_seed(recipe.seed)
    kwargs = recipe.model_kwargs(genotype, num_classes, x.shape[1:])
    schedule = keras.optimizers.schedules.CosineDecay(
        recipe.learning_rate, decay_steps=recipe.epochs * steps, alpha=0.01)
    start = time.perf_counter()
    with Trainer(lambda: create_model("darts_network", **kwargs),
                 keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 keras.optimizers.AdamW(schedule, weight_decay=recipe.weight_decay),
                 [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                 jit_compile=False, precision="float32", steps_per_execution=min(steps, 16),
                 verbose=verbose) as trainer:
        trainer.fit(from_arrays(x, y, recipe.batch_size, training=True, seed=recipe.seed),
                    epochs=recipe.epochs, steps_per_epoch=steps)
        result = {f"{split}_accuracy": trainer.evaluate(
            from_arrays(*arrays, 500, training=False))["accuracy"]
            for split, arrays in (evaluate or {}).items()}
        result.update(params=trainer.model.count_params(), steps=recipe.epochs * steps,
                      seconds=round(time.perf_counter() - start, 1))
        model = trainer.model
    return (result, model) if return_model else result
