"""The image-classification recipe: train -> evaluate -> export -> verify, on a registered dataset.

Pipelines (``pipelines/*.py``) hold a ``ClassifierRecipe`` and call ``run``; the CLI's ``train``
and ``export`` commands call the same pieces.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from kerasdl.io import atomic_path, atomic_write_json


@dataclasses.dataclass
class ClassifierRecipe:
    model: str = "simple_cnn"
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    dataset: str = "fashion_mnist"
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    validation_examples: int = 5000  # held out from the training split
    augment: bool = False  # random horizontal flips: for mirror-symmetric classes (clothes), not digits
    precision: str = "auto"
    jit_compile: object = "auto"
    steps_per_execution: int = 8
    strategy: object = None
    export_modes: tuple = ("fp32", "int8")
    max_int8_accuracy_drop: float = 0.01  # int8 TFLite may lose at most 1 point of accuracy
    out_dir: str = "saved_models"
    name: str | None = None
    seed: int = 0
    fast: bool = False  # a few steps on a data subset, for CI

    @property
    def run_name(self) -> str:
        """``name``, else DATASET_MODEL (+ ``_fast`` so a smoke run never replaces a real one)."""
        return self.name or f"{self.dataset}_{self.model}" + ("_fast" if self.fast else "")

    @property
    def train_epochs(self) -> int:
        """Epochs actually run: ``epochs``, or 2 short ones for ``fast``."""
        return 2 if self.fast else self.epochs

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.run_name


def load_splits(recipe: ClassifierRecipe):
    """(train, validation, test) numpy pairs; ``fast`` keeps small subsets."""
    import numpy as np

    from kerasdl.registry import load_dataset

    x, y = load_dataset(recipe.dataset, split="train", as_numpy=True)
    x_test, y_test = load_dataset(recipe.dataset, split="test", as_numpy=True)
    order = np.random.default_rng(recipe.seed).permutation(len(x))
    n_val = min(recipe.validation_examples, len(x) // 5)
    val, train = order[:n_val], order[n_val:]
    if recipe.fast:
        train, val, x_test, y_test = train[:2048], val[:512], x_test[:1000], y_test[:1000]
    return (x[train], y[train]), (x[val], y[val]), (x_test, y_test)


def _augmentation(recipe):
    import keras

    if not recipe.augment:
        return None
    return [keras.layers.RandomFlip("horizontal", seed=recipe.seed)]


def train(recipe: ClassifierRecipe, *, resume: bool = False):
    """Train and evaluate; saves ``model.keras``, logs and ``train_report.json`` in the run dir.

    Returns ``(trainer, report, splits)``.
    """
    import keras
    import tensorflow as tf

    from kerasdl.data.datasets import dataset_info
    from kerasdl.data.pipelines import from_arrays
    from kerasdl.losses import classification_loss
    from kerasdl.registry import create_model
    from kerasdl.train.strategy import resolve_strategy
    from kerasdl.train.trainer import Trainer

    strategy = resolve_strategy(recipe.strategy)  # first: multi-worker set-up precedes any TF op
    keras.utils.set_random_seed(recipe.seed)
    info = dataset_info(recipe.dataset)
    (x, y), (x_val, y_val), (x_test, y_test) = splits = load_splits(recipe)
    def train_data_for(input_context=None):
        return from_arrays(x, y, recipe.batch_size, training=True, seed=recipe.seed,
                           augment=_augmentation(recipe), input_context=input_context)

    # Parameter-server workers each build their own shard; the other strategies split one
    # global batch (so any number of replicas sees the same examples per step).
    ps = isinstance(strategy, tf.distribute.ParameterServerStrategy)
    train_data = train_data_for if ps else train_data_for()
    val_data = from_arrays(x_val, y_val, 512, training=False)
    steps = len(x) // recipe.batch_size
    epochs = recipe.train_epochs
    steps_per_epoch = min(steps, 25) if recipe.fast else steps
    schedule = keras.optimizers.schedules.CosineDecay(
        recipe.learning_rate, decay_steps=epochs * steps_per_epoch, alpha=0.01)
    trainer = Trainer(
        lambda: create_model(recipe.model, num_classes=info["num_classes"],
                             input_shape=info["image_shape"], **recipe.model_kwargs),
        classification_loss(recipe.label_smoothing),
        keras.optimizers.AdamW(schedule, weight_decay=recipe.weight_decay),
        [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        strategy=strategy, jit_compile=recipe.jit_compile, precision=recipe.precision,
        steps_per_execution=recipe.steps_per_execution,
        checkpoint_dir=recipe.run_dir / "checkpoints", log_dir=recipe.run_dir / "logs")
    start = time.perf_counter()
    trainer.fit(train_data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                validation_data=val_data, resume=resume)
    train_seconds = time.perf_counter() - start
    test = trainer.evaluate(from_arrays(x_test, y_test, 512, training=False))
    report = {
        "recipe": {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in dataclasses.asdict(recipe).items() if k != "strategy"},
        "policy": trainer.policy,
        "train_seconds": round(train_seconds, 1),
        "epochs": trainer.history.epochs,
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "test_examples": len(x_test),
    }
    out = trainer.own_dir(recipe.run_dir)  # the run dir, or a worker's own subfolder
    with atomic_path(out / "model.keras") as tmp:
        trainer.model.save(tmp)
    atomic_write_json(out / "train_report.json", report)
    return trainer, report, splits


def export_and_verify(model, recipe: ClassifierRecipe, splits, metrics: dict) -> dict:
    """Export every mode, then check fp32 parity (inside export) and the int8 accuracy drop."""
    from kerasdl.export import export_model

    (x, _), _, (x_test, y_test) = splits
    meta = export_model(model, recipe.run_name, out_dir=recipe.out_dir, modes=recipe.export_modes,
                        representative_data=x[:500], test_data=(x_test, y_test), metrics=metrics,
                        threads=(1, 2), latency_runs=20 if recipe.fast else 200)
    if "int8" in meta["modes"] and not recipe.fast:
        drop = meta["modes"]["int8"]["parity"]["keras_accuracy"] - \
            meta["modes"]["int8"]["parity"]["tflite_accuracy"]
        if drop > recipe.max_int8_accuracy_drop:
            raise AssertionError(f"int8 TFLite accuracy is {100 * drop:.2f} points below Keras "
                                 f"(allowed {100 * recipe.max_int8_accuracy_drop:.2f})")
    return meta


def run(recipe: ClassifierRecipe, *, resume: bool = False) -> dict:
    """The whole pipeline; prints and returns a summary (the chief's: other workers of a
    multi-worker cluster only train)."""
    trainer, report, splits = train(recipe, resume=resume)
    if not trainer.role.is_chief:
        return report
    meta = export_and_verify(trainer.model, recipe, splits, {
        "test_accuracy": report["test_accuracy"], "train_seconds": report["train_seconds"],
        "policy": report["policy"]})
    summary = summarize(report, meta)
    atomic_write_json(recipe.run_dir / "summary.json", summary)
    print(json.dumps(summary, indent=2), file=sys.stdout)
    return summary


def summarize(report: dict, meta: dict) -> dict:
    """The numbers a person wants from a run: accuracy, sizes, parity and latency per mode."""
    modes = {}
    for mode, entry in meta["modes"].items():
        parity = entry.get("parity", {})
        modes[mode] = {
            "size_kb": round(entry["size_bytes"] / 1024, 1),
            "size_ratio_vs_fp32": entry.get("size_ratio_vs_fp32"),
            "tflite_accuracy": parity.get("tflite_accuracy"),
            "max_abs_error": parity.get("max_abs_error"),
            "top1_agreement": parity.get("top1_agreement"),
            "latency_ms": {k: v["median_ms"] for k, v in entry["latency"].items()},
        }
    return {"test_accuracy": report["test_accuracy"], "train_seconds": report["train_seconds"],
            "policy": report["policy"], "tflite": modes}
