"""The shared model contract: what every registered model must satisfy.

Adding a model = registering it with ``kerasdl.models.base.register_model``; the parametrised tests
in test_model_contract.py then cover it. Per-task inputs and losses live in ``TASKS``.
"""
from __future__ import annotations

import keras
import numpy as np

import kerasdl
from kerasdl.registry import MODELS


def classification_batch(model, rng, batch=16):
    shape = (batch, *model.inputs[0].shape[1:])
    num_classes = model.outputs[0].shape[-1]
    return rng.random(shape, dtype=np.float32), rng.integers(0, num_classes, batch).astype("int32")


TASKS = {
    "classification": {
        "batch": classification_batch,
        "loss": lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    },
}


def small_model(name: str):
    """The registered model at its small test size."""
    return kerasdl.create_model(name, **MODELS.entry(name).info.get("small", {}))


def task_of(name: str) -> dict:
    task = MODELS.entry(name).info.get("task")
    if task not in TASKS:
        raise KeyError(f"model {name!r} declares task {task!r}; add it to tests/contract.py TASKS")
    return TASKS[task]
