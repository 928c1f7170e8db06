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


def _vocab(model) -> int:
    """Smallest token vocabulary among the model's inputs (token ids are drawn below it)."""
    config = model.get_config()
    sizes = [config[k] for k in ("vocab_size", "source_vocab_size", "target_vocab_size") if k in config]
    if not sizes:
        raise KeyError(f"{type(model).__name__} takes token ids but has no vocab_size hyperparameter")
    return min(sizes)


def token_inputs(model, rng, batch=16):
    """Integer token ids in [1, vocab) for every model input (0 is the padding id)."""
    xs = [rng.integers(1, _vocab(model), (batch, *i.shape[1:])).astype("int32") for i in model.inputs]
    return xs[0] if len(xs) == 1 else tuple(xs)


def text_classification_batch(model, rng, batch=16):
    """Token ids [B, T] -> class logits [B, num_classes]."""
    return token_inputs(model, rng, batch), rng.integers(0, model.outputs[0].shape[-1], batch).astype("int32")


def token_prediction_batch(model, rng, batch=16):
    """Token ids (one input or (source, target_in)) -> per-position logits [B, T, V]; y = ids [B, T]."""
    out = model.outputs[0].shape
    return token_inputs(model, rng, batch), rng.integers(1, out[-1], (batch, out[1])).astype("int32")


def candidate_batch(model, rng, batch=16):
    """word2vec form: (word(s), candidates [B, 1+K]) -> logits [B, 1+K]; the first candidate is the
    true one (label 1), the rest are negatives (label 0)."""
    y = np.zeros((batch, model.outputs[0].shape[-1]), "float32")
    y[:, 0] = 1.0
    return token_inputs(model, rng, batch), y


def _sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


TASKS = {
    "classification": {"batch": classification_batch, "loss": _sparse_ce},
    # models taking int32 token ids; hyperparameters name their vocabularies (vocab_size, or
    # source_vocab_size/target_vocab_size) and their fixed lengths
    "text_classification": {"batch": text_classification_batch, "loss": _sparse_ce},
    "language_model": {"batch": token_prediction_batch, "loss": _sparse_ce},  # causal or masked LM
    "seq2seq": {"batch": token_prediction_batch, "loss": _sparse_ce},  # inputs (source, target_in)
    "word2vec": {"batch": candidate_batch,
                 "loss": lambda: keras.losses.BinaryCrossentropy(from_logits=True)},
}


def small_model(name: str):
    """The registered model at its small test size."""
    return kerasdl.create_model(name, **MODELS.entry(name).info.get("small", {}))


def task_of(name: str) -> dict:
    task = MODELS.entry(name).info.get("task")
    if task not in TASKS:
        raise KeyError(f"model {name!r} declares task {task!r}; add it to tests/contract.py TASKS")
    return TASKS[task]
