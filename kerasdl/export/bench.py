"""Size and batch-1 latency of a TFLite model with the LiteRT interpreter."""
from __future__ import annotations

import os
import time

import numpy as np

from kerasdl.export.tflite import TFLiteRunner


def size_bytes(tflite) -> int:
    """Size of a flatbuffer given as bytes or as a file path."""
    if isinstance(tflite, (bytes, bytearray, memoryview)):
        return len(tflite)
    return os.path.getsize(tflite)


def _random_input(runner: TFLiteRunner, rng) -> np.ndarray:
    shape = tuple(1 if d is None else d for d in runner.input_shape)
    dtype = runner.input_dtype
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.random(shape).astype(dtype)


def time_calls(call, runs=50, warmup=5) -> dict:
    """Median and p90 wall time (ms) of ``call()`` over ``runs`` calls after ``warmup`` ones."""
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for _ in range(warmup):
        call()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
    return {"median_ms": float(np.median(times) * 1e3),
            "p90_ms": float(np.percentile(times, 90) * 1e3)}


def latency(tflite_bytes, num_threads=1, runs=50, warmup=5, sample=None) -> dict:
    """Median and p90 wall time (ms) of one batch-1 `invoke`, on `sample` (a real input: one
    example or a batch, whose first row is used) or else on random input. Pass a sample for
    token-id models: random ids over the whole int range overflow their embedding."""
    runner = TFLiteRunner(tflite_bytes, num_threads=num_threads)
    if sample is None:
        x = _random_input(runner, np.random.default_rng(0))
    else:
        x = np.asarray(sample)
        x = x[None] if x.ndim == len(runner.input_shape) - 1 else x[:1]
        x = runner.prepare(x)
    return {**time_calls(lambda: runner.invoke(x), runs, warmup), "num_threads": int(num_threads)}
