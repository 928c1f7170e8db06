"""Mixed-precision policy: bf16 on TPUs and on CPUs with bf16 hardware, fp16 (+ loss scaling) on GPUs."""
from __future__ import annotations

import contextlib
import functools

import keras
import tensorflow as tf

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has bf16 matmul hardware (AMX tiles or AVX512-BF16).

    Without it (e.g. AVX2-only CPUs) TensorFlow emulates bf16 and mixed precision is slower.
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str = "auto") -> str:
    """Map "auto" to the fastest safe policy for the visible hardware; validate explicit names."""
    if precision == "auto":
        if tf.config.list_logical_devices("TPU"):
            return "mixed_bfloat16"
        if tf.config.list_logical_devices("GPU"):
            return "mixed_float16"
        return "mixed_bfloat16" if cpu_has_fast_bf16() else "float32"
    if precision not in POLICIES:
        raise ValueError(f"Unknown precision {precision!r}; choose 'auto' or one of {POLICIES}")
    return precision


@contextlib.contextmanager
def precision_scope(policy: str):
    """Build layers under ``policy``, then restore the previous global dtype policy."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
