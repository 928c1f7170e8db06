"""Data layer: real datasets from package registries (:mod:`.sources`), registered loaders
(:mod:`.datasets`) and tf.data pipelines (:mod:`.pipelines`).

``import kerasdl.data`` does not import TensorFlow; the loader and pipeline names load on first use.
"""
from __future__ import annotations

import importlib

from kerasdl.data.sources import DataFetchError, DataFileError, cache_dir, fetch

_LAZY = {
    "dataset_info": "kerasdl.data.datasets",
    "stratified_split": "kerasdl.data.datasets",
    "from_arrays": "kerasdl.data.pipelines",
    "make_pipeline": "kerasdl.data.pipelines",
}

__all__ = ["DataFetchError", "DataFileError", "cache_dir", "fetch", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'kerasdl.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
