"""Export: SavedModel, TFLite (fp32/fp16/dynamic/int8) with a built-in-op check, parity, benchmarks.

    from kerasdl import export
    meta = export.export_model(model, "digits_cnn", representative_data=x_train[:200],
                               test_data=(x_test, y_test))

Names load lazily, so importing this package does not import TensorFlow.
"""
from __future__ import annotations

import importlib

_LAZY = {
    "export_saved_model": "saved_model",
    "MODES": "tflite",
    "convert": "tflite",
    "convert_saved_model": "tflite",
    "op_names": "tflite",
    "check_builtin_ops": "tflite",
    "TFLiteRunner": "tflite",
    "parity": "tflite",
    "float32_model": "tflite",
    "NonBuiltinOpError": "tflite",
    "ParityError": "tflite",
    "latency": "bench",
    "size_bytes": "bench",
    "export_model": "package",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'kerasdl.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
