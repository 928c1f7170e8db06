"""``analyze(model)``: per-layer parameters, MACs/FLOPs, output shape and receptive field.

    report = analyze(keras.applications.ResNet50(weights=None))
    print(report.table())           # or format_table(report)
    report.save("resnet50.json")    # atomic; report.to_dict() / report.to_json() for the data

Counts are for one image (batch 1) at inference, by the rules of ``kerasdl.analysis.flops``;
layers without a rule are traced alone and counted by TensorFlow's profiler (their row says so).
Receptive fields follow ``kerasdl.analysis.receptive_field``. Rows are leaf layer calls in
execution order; nested models and composite layers appear as ``outer/inner`` paths, and a layer
called again shows its weights only on its first call.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from kerasdl.analysis.flops import Cost, layer_cost
from kerasdl.analysis.graph import walk
from kerasdl.analysis.receptive_field import ReceptiveField, layer_field
from kerasdl.io import atomic_write_json, to_json

CONVENTION = ("FLOPs of one image (batch 1) at inference; MACs = multiply-accumulates of "
              "conv/dense layers; rules in kerasdl.analysis.flops (curriculum 001 section 7)")
PROFILED = "FLOPs from the TF profiler (layer traced alone)"


@dataclass(frozen=True)
class LayerStats:
    """One row of the report: a leaf layer call."""

    name: str
    layer_type: str
    output_shape: tuple
    trainable_params: int
    non_trainable_params: int
    macs: int
    flops: int
    receptive_field: ReceptiveField
    note: str = ""

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.layer_type, "output_shape": list(self.output_shape),
                "params": self.params, "trainable_params": self.trainable_params,
                "non_trainable_params": self.non_trainable_params, "macs": self.macs,
                "flops": self.flops, "receptive_field": self.receptive_field.to_dict(),
                "note": self.note}


@dataclass(frozen=True)
class ModelReport:
    """Rows for every leaf layer call of a model, with totals, a table and JSON."""

    model_name: str
    input_shapes: list
    layers: list

    def _sum(self, attribute: str) -> int:
        return sum(getattr(row, attribute) for row in self.layers)

    @property
    def params(self) -> int:
        return self._sum("params")

    @property
    def trainable_params(self) -> int:
        return self._sum("trainable_params")

    @property
    def non_trainable_params(self) -> int:
        return self._sum("non_trainable_params")

    @property
    def macs(self) -> int:
        return self._sum("macs")

    @property
    def flops(self) -> int:
        return self._sum("flops")

    def layer(self, name: str) -> LayerStats:
        """The row named ``name`` (a layer name or an ``outer/inner`` path)."""
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(f"no layer {name!r} in the report of {self.model_name}")

    def totals(self) -> dict:
        return {"params": self.params, "trainable_params": self.trainable_params,
                "non_trainable_params": self.non_trainable_params, "macs": self.macs,
                "flops": self.flops}

    def to_dict(self) -> dict:
        return {"model": self.model_name, "convention": CONVENTION,
                "input_shapes": [list(shape) for shape in self.input_shapes],
                "totals": self.totals(), "layers": [row.to_dict() for row in self.layers]}

    def to_json(self) -> str:
        return to_json(self.to_dict())

    def save(self, path):
        """Write ``to_dict()`` as JSON atomically; returns the path."""
        return atomic_write_json(path, self.to_dict())

    def table(self) -> str:
        return format_table(self)


def analyze(model) -> ModelReport:
    """Walk a built functional or Sequential Keras model; see the module docstring."""
    inputs, calls = walk(model)
    fields = {key: ReceptiveField.of_input(shape) for key, shape in inputs}
    seen_weights: set = set()
    rows = []
    for call in calls:
        cost = layer_cost(call.layer, call.input_shapes, call.output_shapes)
        if cost is None:
            cost = _profiled_cost(call)
        field, field_note = layer_field(call.layer, [fields[k] for k in call.inputs],
                                        call.input_shapes)
        fields.update(dict.fromkeys(call.outputs, field))
        trainable, non_trainable, shared = _new_params(call.layer, seen_weights)
        notes = [cost.note, field_note, "weights counted at first call" if shared else "",
                 f"inside {call.entered_from}" if call.entered_from else ""]
        shape = call.output_shapes[0] if len(call.output_shapes) == 1 else call.output_shapes
        rows.append(LayerStats(call.path, type(call.layer).__name__, tuple(shape), trainable,
                               non_trainable, cost.macs, cost.flops, field,
                               "; ".join(n for n in notes if n)))
    return ModelReport(model.name, [shape for _, shape in inputs], rows)


def _new_params(layer, seen: set) -> tuple:
    """(trainable, non-trainable, shared): sizes of ``layer``'s weights not counted before."""
    trainable_ids = {id(v) for v in getattr(layer, "trainable_weights", [])}
    counts = [0, 0]
    shared = False
    for variable in getattr(layer, "weights", []):
        if id(variable) in seen:
            shared = True
            continue
        seen.add(id(variable))
        counts[id(variable) not in trainable_ids] += math.prod(variable.shape)
    return counts[0], counts[1], shared


def _profiled_cost(call) -> Cost:
    """Trace the call alone at batch 1 and count it with TensorFlow's profiler."""
    import keras
    import tensorflow as tf

    from kerasdl.analysis.profiler import profile_function

    if any(d is None for shape in call.input_shapes for d in shape[1:]):
        return Cost(note="not counted: input shape not static")
    specs = [tf.TensorSpec((1, *shape[1:]), dtype)
             for shape, dtype in zip(call.input_shapes, call.input_dtypes)]
    layer, arguments = call.layer, call.arguments
    extra = {"training": False} if isinstance(layer, keras.layers.Layer) else {}

    def run(*tensors):
        if arguments is None:
            return layer(*tensors, **extra)
        args, kwargs = arguments.fill_in({id(kt): t for kt, t in zip(arguments.keras_tensors,
                                                                     tensors)})
        return layer(*args, **{**extra, **kwargs})

    profiled = profile_function(run, specs)
    return Cost(profiled.macs, profiled.total, PROFILED)


def format_table(report: ModelReport) -> str:
    """The report as a fixed-width text table with a totals line."""
    header = ("layer", "type", "output shape", "params", "MFLOPs", "RF", "jump")
    lines = [header]
    for row in report.layers:
        field = row.receptive_field
        lines.append((row.name, row.layer_type, _shape(row.output_shape), f"{row.params:,}",
                      f"{row.flops / 1e6:.3f}", field.describe(), field.describe_jump()))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths))) for line in lines]
    text.insert(1, "-" * len(text[0]))
    text.append("-" * len(text[0]))
    text.append(f"total params {report.params:,} (trainable {report.trainable_params:,}, "
                f"non-trainable {report.non_trainable_params:,}); MACs {report.macs:,} "
                f"({_scaled(report.macs)}); FLOPs {report.flops:,} ({_scaled(report.flops)})")
    return "\n".join(text)


def _scaled(count: int) -> str:
    return f"{count / 1e9:.3f} G" if count >= 1e9 else f"{count / 1e6:.3f} M"


def _shape(shape) -> str:
    if shape and isinstance(shape[0], tuple):
        return " ".join(_shape(s) for s in shape)
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"
