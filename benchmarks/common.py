"""Pieces the benchmarks share: real image batches at any size, a Keras-fit timer, model specs,
markdown tables, the machine line, and best-of-N interleaved timing."""
from __future__ import annotations

import itertools
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasdl  # noqa: E402

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def machine() -> str:
    """One line naming the CPU, its core count and the TF/Keras versions."""
    import tensorflow as tf

    name = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name}, {os.cpu_count()} cores, TF {tf.__version__} / Keras {keras.__version__}"


def fashion_images(n: int, size: int = 28, channels: int = 1, split: str = "train"):
    """The first ``n`` real Fashion-MNIST images resized to ``size`` x ``size`` x ``channels``
    (float32 in [0, 1]) and their labels."""
    import tensorflow as tf

    x, y = kerasdl.load_dataset("fashion_mnist", split=split, as_numpy=True)
    x, y = x[:n], y[:n]
    if size != x.shape[1]:
        x = tf.image.resize(x, (size, size)).numpy()
    if channels != x.shape[-1]:
        x = np.repeat(x, channels, axis=-1)
    return np.ascontiguousarray(x, dtype=np.float32), y


class ModelSpec:
    """``name@size`` on the command line: a registered model at a square RGB input of ``size``
    with its ImageNet stem (as keras.applications builds it at any size); ``name@size/cifar``
    with its small-input (CIFAR) stem; a plain name: its Fashion-MNIST default (28x28x1)."""

    def __init__(self, text: str, num_classes: int = 10):
        name, _, size = text.partition("@")
        size, _, stem = size.partition("/")
        if stem not in ("", "cifar"):
            raise ValueError(f"unknown stem {stem!r} in {text!r}; only '/cifar' exists")
        self.text, self.name, self.num_classes = text, name, num_classes
        self.size = int(size) if size else None
        self.small_input = stem == "cifar"
        if name not in kerasdl.list_models():
            raise ValueError(f"unknown model {name!r} in {text!r}")

    @property
    def input_shape(self) -> tuple:
        return (28, 28, 1) if self.size is None else (self.size, self.size, 3)

    @property
    def kwargs(self) -> dict:
        if self.size is None:
            return {}
        return {"input_shape": self.input_shape, "num_classes": self.num_classes,
                "small_input": self.small_input}

    def build(self):
        return kerasdl.create_model(self.name, **self.kwargs)

    def images(self, n: int):
        return fashion_images(n, *self.input_shape[:1], self.input_shape[-1])


class EpochTimer(keras.callbacks.Callback):
    """Seconds from the start to the end of an epoch's steps (fit's set-up excluded)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def fit_rate(model, x, y, batch: int, steps: int):
    """A function returning examples/s of one ``fit`` epoch of ``steps`` batches of a compiled
    ``model`` on the first ``steps * batch`` examples (fit's set-up untimed); one warm-up batch
    (tracing) runs here."""
    n = steps * batch
    model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)
    timer = EpochTimer()

    def rate():
        model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0, shuffle=True,
                  callbacks=[timer])
        return n / timer.seconds

    return rate


def trainer_rate(trainer, data, batch: int, steps: int, warmup_steps: int):
    """A function returning examples/s of ``steps`` more Trainer steps on ``data`` (each call
    resumes for one more epoch and times only its steps); the first ``warmup_steps`` — the
    policy trial, tracing — run here, untimed."""
    trainer.fit(data, epochs=1, steps_per_epoch=warmup_steps)
    epochs = itertools.count(2)

    def rate():
        trainer.fit(data, epochs=next(epochs), steps_per_epoch=steps, resume=True)
        return steps * batch / trainer.epoch_seconds[-1]

    return rate


def best_interleaved(runners: dict, repeats: int) -> dict:
    """Call each runner (name -> function returning a rate) ``repeats`` times, alternating
    between them so that drifts of a shared machine hit every side alike; the best of each."""
    best = dict.fromkeys(runners, 0.0)
    for _ in range(repeats):
        for key, run in runners.items():
            best[key] = max(best[key], run())
    return best


def training_flops(model) -> int:
    """Training FLOPs of one example: 3 x forward (backward ~ 2 x forward), the forward count
    being 2 x kerasdl.analysis' multiply-accumulates (convs, dense; the elementwise rest is left
    out, as is usual for MFU)."""
    from kerasdl.analysis import analyze

    return 3 * 2 * analyze(model).macs


def save_json(path, payload):
    if path:
        from kerasdl.io import atomic_write_json

        atomic_write_json(path, payload)
