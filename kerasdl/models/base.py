"""The base of every kerasdl model: a functional graph built inside a ``keras.Model`` subclass.

A subclass writes one static method, ``build_graph(**hyperparameters) -> (inputs, outputs)``, whose
keyword defaults are the model's configuration. The base binds the constructor's arguments to that
signature (unknown names fail with ``TypeError``), builds the graph under the ``dtype`` policy
(default: the global one), and returns exactly those arguments plus the policy from ``get_config``
— so ``from_config(get_config())`` rebuilds an identical model, and the model stays
``summary()``-able, serialisable and exportable like any functional model.
"""
from __future__ import annotations

import functools
import inspect

import keras

from kerasdl.registry import MODELS
from kerasdl.train.precision import precision_scope

_BASE_KEYS = ("name", "trainable", "dtype")


def _policy_name(dtype) -> str:
    """A dtype policy's name, from a name, a ``DTypePolicy`` or its serialised dict."""
    if isinstance(dtype, dict):
        return dtype.get("config", {}).get("name", "float32")
    return getattr(dtype, "name", dtype)


class FunctionalModel(keras.Model):
    """Subclass and define ``build_graph`` as a ``@staticmethod`` with keyword defaults."""

    @staticmethod
    def build_graph(**hyperparameters):  # pragma: no cover - abstract
        raise NotImplementedError("subclasses define build_graph(**hyperparameters)")

    def __init__(self, **kwargs):
        base = {k: kwargs.pop(k) for k in _BASE_KEYS if k in kwargs}
        try:
            bound = inspect.signature(self.build_graph).bind(**kwargs)
        except TypeError as err:
            raise TypeError(f"{type(self).__name__}: {err}") from None
        bound.apply_defaults()
        config = dict(bound.arguments)
        policy = _policy_name(base.get("dtype") or keras.config.dtype_policy())
        with precision_scope(policy):
            inputs, outputs = self.build_graph(**config)
            super().__init__(inputs=inputs, outputs=outputs, name=base.get("name"))
        self.trainable = base.get("trainable", True)
        self._hyperparameters = config

    @property
    def hyperparameters(self) -> dict:
        return dict(self._hyperparameters)

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype_policy.name,
                **self._hyperparameters}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def register_model(name: str, *, tags=(), defaults=None, **info):
    """Register a model class under ``name`` for ``create_model`` and for ``.keras`` loading.

    ``defaults`` makes ``name`` a variant of the class (``resnet50`` = ``ResNet(depth=50)``);
    stack one decorator per variant. ``info`` feeds the model contract
    (tests/test_model_contract.py): ``task`` (e.g. "classification"), ``small`` (kwargs for a small
    test build), ``deployable`` (TFLite export is part of its contract), ``params`` (published
    *trainable* parameter count of the default build — BN moving statistics are buffers, not
    parameters, as in torchvision and the papers), ``params_source`` (where that figure is
    published), ``heavy`` (the contract's build/compile/convert checks run only with ``-m slow``).
    """

    def decorate(cls):
        cls = keras.saving.register_keras_serializable(package="kerasdl", name=cls.__name__)(cls)
        builder = functools.partial(cls, **defaults) if defaults else cls
        MODELS.register(name, tags=tags, **info)(builder)
        return cls

    return decorate
