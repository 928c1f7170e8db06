"""A hyper-parameter search space written as a small dict (or JSON), turned into KerasTuner's.

Each entry maps a name to its values:

==========================================  ===================================================
form                                        meaning
==========================================  ===================================================
``[v1, v2, ...]`` or ``{"choice": [...]}``  one of the listed values (any JSON values: lists too)
``{"int": [lo, hi], "step": s}``            an integer in [lo, hi] (``"log": true``: log scale)
``{"float": [lo, hi], "log": true}``        a float in [lo, hi] (``"step"`` optional)
a bare number, string or bool               fixed (recorded, not searched)
==========================================  ===================================================

Names are the training settings in ``RECIPE_KEYS`` (``learning_rate``, ``optimizer``,
``batch_size``, ``weight_decay``, ``label_smoothing``) or ``model.<argument>`` for an argument of
the registered model's ``build_graph`` (``model.dense_units``). Anything else fails, naming the
known settings or the model's arguments.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import math
from pathlib import Path

RECIPE_KEYS = ("learning_rate", "optimizer", "batch_size", "weight_decay", "label_smoothing")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
MODEL_PREFIX = "model."
_SCALARS = (bool, int, float, str)


class SearchSpaceError(ValueError):
    """A search space that cannot be searched; the message names the entry and the problem."""


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched (or fixed) hyper-parameter."""

    name: str
    kind: str  # "choice", "int", "float" or "fixed"
    values: tuple = ()  # choice values (decoded) or the fixed value
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    @property
    def encoded(self) -> bool:
        """Choices KerasTuner cannot hold as they are (lists, None, mixed types) travel as JSON."""
        types = {type(v) for v in self.values}
        return self.kind == "choice" and (len(types) > 1 or not types <= set(_SCALARS))

    def define(self, hp):
        """Declare this dimension on a ``keras_tuner.HyperParameters`` and return its value."""
        if self.kind == "fixed":
            return hp.Fixed(self.name, self.values[0])
        if self.kind == "choice":
            if self.encoded:
                return json.loads(hp.Choice(self.name, [json.dumps(v) for v in self.values]))
            return hp.Choice(self.name, list(self.values))
        sampling = "log" if self.log else "linear"
        if self.kind == "int":
            return hp.Int(self.name, int(self.low), int(self.high), step=self.step,
                          sampling=sampling)
        return hp.Float(self.name, float(self.low), float(self.high), step=self.step,
                        sampling=sampling)

    def decode(self, value):
        """A value as KerasTuner stores it -> the value the recipe uses."""
        return json.loads(value) if self.encoded else value


def _number(name, value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SearchSpaceError(f"search space entry {name!r}: {what} must be a finite number, "
                               f"got {value!r}")
    return value


def _range(name: str, kind: str, spec: dict) -> Dimension:
    bounds = spec[kind]
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        raise SearchSpaceError(f"search space entry {name!r}: {kind!r} needs [low, high], "
                               f"got {bounds!r}")
    low, high = (_number(name, b, "a bound") for b in bounds)
    if kind == "int" and not all(float(b).is_integer() for b in bounds):
        raise SearchSpaceError(f"search space entry {name!r}: int bounds must be integers, "
                               f"got {bounds!r}")
    if low >= high:
        raise SearchSpaceError(f"search space entry {name!r}: low ({low}) must be below high "
                               f"({high})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SearchSpaceError(f"search space entry {name!r}: 'log' must be true or false")
    if log and low <= 0:
        raise SearchSpaceError(f"search space entry {name!r}: a log-scale range needs low > 0, "
                               f"got {low}")
    step = spec.get("step")
    if step is not None and _number(name, step, "step") <= 0:
        raise SearchSpaceError(f"search space entry {name!r}: step must be positive, got {step}")
    return Dimension(name, kind, low=low, high=high, step=step, log=log)


def parse_dimension(name: str, spec) -> Dimension:
    """One entry of the space dict -> a :class:`Dimension` (see the module docstring)."""
    if isinstance(spec, dict):
        kinds = [k for k in ("choice", "int", "float") if k in spec]
        extra = set(spec) - {"choice", "int", "float", "step", "log"}
        if len(kinds) != 1 or extra:
            raise SearchSpaceError(
                f"search space entry {name!r}: give exactly one of 'choice', 'int', 'float' "
                f"(with optional 'step', 'log'); got keys {sorted(spec)}")
        kind = kinds[0]
        if kind != "choice":
            return _range(name, kind, spec)
        if set(spec) != {"choice"}:
            raise SearchSpaceError(f"search space entry {name!r}: 'choice' takes no step/log")
        spec = spec["choice"]
    if isinstance(spec, (list, tuple)):
        values = tuple(spec)
        if not values:
            raise SearchSpaceError(f"search space entry {name!r}: the choice list is empty")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise SearchSpaceError(f"search space entry {name!r}: repeated choices in {list(values)}")
        return Dimension(name, "choice", values)
    if isinstance(spec, _SCALARS) or spec is None:
        return Dimension(name, "fixed", (spec,))
    raise SearchSpaceError(f"search space entry {name!r}: cannot read {spec!r} (a list, a dict "
                           "with 'choice'/'int'/'float', or a fixed value)")


def model_arguments(model: str) -> tuple:
    """The keyword arguments of a registered model's ``build_graph``."""
    from kerasdl.registry import MODELS

    builder = MODELS.entry(model).builder  # UnknownNameError lists close matches
    cls = getattr(builder, "func", builder)  # variants are functools.partial(cls, ...)
    return tuple(inspect.signature(cls.build_graph).parameters)


class SearchSpace:
    """Validated dimensions of a search over a registered model's arguments and training settings.

    Args:
        spec: the space as a dict, a JSON string, or a path to a ``.json`` file.
        model: the registered model whose ``build_graph`` arguments ``model.<name>`` entries set.
        reserved: model arguments the recipe sets itself (the dataset's ``num_classes``...).
    """

    def __init__(self, spec, model: str, reserved=("num_classes", "input_shape")):
        spec = load_spec(spec)
        allowed = model_arguments(model)
        self.model = model
        self.dimensions = []
        for name, entry in spec.items():
            if name.startswith(MODEL_PREFIX):
                argument = name[len(MODEL_PREFIX):]
                if argument in reserved:
                    raise SearchSpaceError(f"search space entry {name!r}: {argument} is set by "
                                           "the dataset, not searched")
                if argument not in allowed:
                    raise SearchSpaceError(
                        f"search space entry {name!r}: {model} has no argument {argument!r}; "
                        f"its arguments: {', '.join(a for a in allowed if a not in reserved)}")
            elif name not in RECIPE_KEYS:
                raise SearchSpaceError(
                    f"unknown hyperparameter {name!r}; use one of {', '.join(RECIPE_KEYS)} or "
                    f"{MODEL_PREFIX}<argument of {model}>")
            dimension = parse_dimension(name, entry)
            if name == "optimizer":
                unknown = set(dimension.values) - set(OPTIMIZERS)
                if dimension.kind not in ("choice", "fixed") or unknown:
                    raise SearchSpaceError(f"search space entry 'optimizer': choose among "
                                           f"{', '.join(OPTIMIZERS)}; got {entry!r}")
            self.dimensions.append(dimension)
        if not any(d.kind != "fixed" for d in self.dimensions):
            raise SearchSpaceError("the search space searches nothing: give at least one entry "
                                   "with several values")

    def define(self, hp) -> dict:
        """Declare every dimension on ``hp``; ``{name: value}`` for this trial (decoded)."""
        return {d.name: d.define(hp) for d in self.dimensions}

    def decode(self, values: dict) -> dict:
        """KerasTuner's stored values (e.g. a trial's) -> recipe values; KerasTuner's own
        bookkeeping entries (``tuner/epochs``...) are left out."""
        by_name = {d.name: d for d in self.dimensions}
        return {k: by_name[k].decode(v) for k, v in values.items() if k in by_name}

    @staticmethod
    def split(values: dict) -> tuple[dict, dict]:
        """``(model kwargs, training settings)`` from a trial's decoded values."""
        model = {k[len(MODEL_PREFIX):]: v for k, v in values.items() if k.startswith(MODEL_PREFIX)}
        return model, {k: v for k, v in values.items() if not k.startswith(MODEL_PREFIX)}

    def to_dict(self) -> dict:
        return {d.name: dataclasses.asdict(d) for d in self.dimensions}


def load_spec(spec) -> dict:
    """A space dict from a dict, a JSON string or a ``.json`` file path."""
    if isinstance(spec, (str, Path)):
        text = str(spec)
        if not text.lstrip().startswith("{"):
            path = Path(text)
            if not path.is_file():
                raise SearchSpaceError(f"search space {text!r} is neither JSON nor a file")
            text = path.read_text()
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as err:
            raise SearchSpaceError(f"search space is not valid JSON: {err}") from None
    if not isinstance(spec, dict) or not spec:
        raise SearchSpaceError(f"the search space must be a non-empty JSON object, got {spec!r}")
    return spec
