"""kerasdl: the classic deep-learning curriculum as fast, exportable Keras 3 code.

The public API is loaded lazily so that ``import kerasdl`` does not import TensorFlow::

    import kerasdl
    model = kerasdl.create_model("simple_cnn", num_classes=10)
    train = kerasdl.load_dataset("fashion_mnist", split="train")
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "create_model": "kerasdl.registry",
    "list_models": "kerasdl.registry",
    "load_dataset": "kerasdl.registry",
    "list_datasets": "kerasdl.registry",
    "UnknownNameError": "kerasdl.registry",
    "Trainer": "kerasdl.train",
    "export": "kerasdl.export",
    "data": "kerasdl.data",
    "train": "kerasdl.train",
    "models": "kerasdl.models",
    "layers": "kerasdl.layers",
    "analysis": "kerasdl.analysis",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'kerasdl' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if module.__name__ == f"kerasdl.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
