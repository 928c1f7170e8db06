"""Lazy package exports (PEP 562), so that importing a kerasdl package does not import TensorFlow."""
from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict, namespace: dict):
    """Return ``(__getattr__, __dir__)`` for ``package``: each name in ``exports`` is imported from
    the module it maps to on first use (a submodule named like the export is returned itself)."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name])
        value = module if module.__name__ == f"{package}.{name}" else getattr(module, name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
