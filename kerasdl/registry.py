"""Name -> builder registries for models and datasets (timm-style ``create_model("name")``).

Modules register their builders with a decorator; the registry imports the module that holds a
name only when that name is asked for, so ``import kerasdl`` stays fast.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable


class UnknownNameError(KeyError):
    """An unknown model or dataset name; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass
class Entry:
    name: str
    builder: Callable[..., Any]
    tags: tuple[str, ...] = ()
    info: dict = field(default_factory=dict)


class Registry:
    """A named collection of builders, filled by the modules listed in ``modules``."""

    def __init__(self, kind: str, modules: tuple[str, ...]):
        self.kind = kind
        self._modules = modules
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str | None = None, *, tags: tuple[str, ...] = (), **info):
        """Decorator: ``@MODELS.register("lenet5", tags=("vision",), params=61706)``."""

        def decorate(builder):
            key = name or builder.__name__
            if key in self._entries and self._entries[key].builder is not builder:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._entries[key] = Entry(key, builder, tuple(tags), dict(info))
            return builder

        return decorate

    def _load(self) -> None:
        if not self._loaded:
            for module in self._modules:
                importlib.import_module(module)
            self._loaded = True

    def names(self, tag: str | None = None) -> list[str]:
        self._load()
        return sorted(n for n, e in self._entries.items() if tag is None or tag in e.tags)

    def entry(self, name: str) -> Entry:
        self._load()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=5, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}.{hint} "
                f"Known {self.kind}s: {', '.join(sorted(self._entries))}."
            )
        return self._entries[name]

    def create(self, name: str, **kwargs):
        return self.entry(name).builder(**kwargs)


MODELS = Registry("model", ("kerasdl.models",))
DATASETS = Registry("dataset", ("kerasdl.data.datasets", "kerasdl.data.text", "kerasdl.data.graphs",
                                "kerasdl.data.movielens", "kerasdl.data.knowledge_graphs",
                                "kerasdl.data.moving_mnist", "kerasdl.data.nuclei"))


def create_model(name: str, **kwargs):
    """Build a registered model: ``create_model("simple_cnn", num_classes=10)``."""
    return MODELS.create(name, **kwargs)


def load_model(path, **kwargs):
    """``keras.models.load_model(path)`` with kerasdl's models, layers and losses registered
    first: a ``.keras`` file names its classes (``kerasdl>VGG``), and Keras finds them only once
    their modules are imported. A missing or corrupt file raises ValueError naming the path."""
    import keras

    MODELS._load()
    importlib.import_module("kerasdl.losses")
    try:
        return keras.models.load_model(path, **kwargs)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot load a Keras model from {str(path)!r}: {err}") from err


def list_models(tag: str | None = None) -> list[str]:
    return MODELS.names(tag)


def load_dataset(name: str, **kwargs):
    """Load a registered dataset: ``load_dataset("fashion_mnist", split="train")``."""
    return DATASETS.create(name, **kwargs)


def list_datasets(tag: str | None = None) -> list[str]:
    return DATASETS.names(tag)
