"""Flatten a Keras model into the leaf layer calls that run at inference, in execution order.

Functional models are walked node by node in the order Keras runs them (deepest first), nested
functional models and ``Sequential`` models are entered, and a composite layer (a ``Layer``
subclass that owns sublayers, such as ``kerasdl.layers.ConvBNAct``) is entered when its sublayers,
applied one after the other in the order it created them, reproduce its output on a random input;
otherwise it stays one opaque call. Tensors are identified by keys, so a consumer finds its
producers' calls. Keras 3 has no public graph API: this reads ``Functional._nodes_by_depth``,
``Operation._inbound_nodes`` and ``Layer._flatten_layers`` (stable since Keras 3.0).
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np


@dataclass
class LayerCall:
    """One call of a leaf layer (or keras op): shapes include the batch axis (``None``)."""

    path: str
    layer: object
    inputs: list
    outputs: list
    input_shapes: list
    output_shapes: list
    input_dtypes: list
    arguments: object = None  # the node's SymbolicArguments; None: called on its one input
    entered_from: str = ""    # the composite layer whose sublayers this call belongs to


def walk(model) -> tuple:
    """``(inputs, calls)``: the model's ``(key, shape)`` inputs and its leaf ``LayerCall``s."""
    if not (isinstance(model, keras.Sequential) or _is_functional(model)):
        raise ValueError(f"{type(model).__name__} is neither functional nor Sequential; analyze "
                         "walks the layer graph of a built functional or Sequential model")
    if not model.built:
        raise ValueError(f"build {model.name} (call it or give it an Input) before analysing it")
    walker = _Walker()
    inputs = [(("", id(t)), tuple(t.shape)) for t in model.inputs]
    outputs = [("", "output", i) for i in range(len(model.outputs))]
    walker.enter(model, "", [k for k, _ in inputs], [s for _, s in inputs],
                 [t.dtype for t in model.inputs], outputs,
                 [tuple(t.shape) for t in model.outputs], "")
    return inputs, walker.calls


def _is_functional(layer) -> bool:
    return isinstance(layer, keras.Model) and hasattr(layer, "_nodes_by_depth")


class _Walker:
    def __init__(self):
        self.calls: list[LayerCall] = []
        self.alias: dict = {}

    def resolve(self, key):
        while key in self.alias:
            key = self.alias[key]
        return key

    def enter(self, layer, path, ins, in_shapes, in_dtypes, outs, out_shapes, parent,
              arguments=None):
        """Record ``layer`` called on ``ins`` producing ``outs``, entering it where possible."""
        scope = f"{path}/" if path else ""
        if isinstance(layer, keras.Sequential):
            inner = [self.chain(layer.layers, scope, ins[0], in_shapes[0], in_dtypes[0], parent)]
        elif _is_functional(layer):
            inner = self.functional(layer, scope, ins)
        elif (sublayers := _sequential_sublayers(layer, in_shapes, in_dtypes)) is not None:
            inner = [self.chain(sublayers, scope, ins[0], in_shapes[0], in_dtypes[0],
                                parent or path)]
        else:
            self.calls.append(LayerCall(path, layer, list(ins), list(outs), list(in_shapes),
                                        list(out_shapes), list(in_dtypes), arguments, parent))
            return
        for out, produced in zip(outs, inner):
            self.alias[out] = produced

    def functional(self, model, scope, ins) -> list:
        for tensor, key in zip(model.inputs, ins):
            if (scope, id(tensor)) != key:
                self.alias[(scope, id(tensor))] = key
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                layer = node.operation
                if isinstance(layer, keras.layers.InputLayer):
                    continue
                index = layer._inbound_nodes.index(node)
                tensors = node.input_tensors
                self.enter(layer, f"{scope}{layer.name}" + (f"#{index}" if index else ""),
                           [self.resolve((scope, id(t))) for t in tensors],
                           [tuple(t.shape) for t in tensors], [t.dtype for t in tensors],
                           [(scope, id(t)) for t in node.outputs],
                           [tuple(t.shape) for t in node.outputs], "", node.arguments)
        return [self.resolve((scope, id(t))) for t in model.outputs]

    def chain(self, layers, scope, key, shape, dtype, parent):
        for index, layer in enumerate(layers):
            spec = layer.compute_output_spec(keras.KerasTensor(shape, dtype=dtype))
            out = (scope, "chain", index)
            self.enter(layer, f"{scope}{layer.name}", [key], [shape], [dtype], [out],
                       [tuple(spec.shape)], parent)
            key, shape, dtype = self.resolve(out), tuple(spec.shape), spec.dtype
        return key


def _sequential_sublayers(layer, in_shapes, in_dtypes):
    """The sublayers of a composite ``layer`` if applying them in creation order reproduces it
    (checked on one random input, inference mode), else ``None``."""
    if not isinstance(layer, keras.layers.Layer) or len(in_shapes) != 1:
        return None
    sublayers = layer._flatten_layers(include_self=False, recursive=False)
    dims = in_shapes[0][1:]
    if (not sublayers or any(d is None for d in dims)
            or not keras.backend.is_float_dtype(in_dtypes[0])):
        return None
    try:
        if sum(sub.count_params() for sub in sublayers) != layer.count_params():
            return None  # the layer owns weights of its own
        x = keras.random.normal((1, *dims), dtype=in_dtypes[0], seed=0)
        expected, chained = layer(x, training=False), x
        for sub in sublayers:
            chained = sub(chained, training=False)
        expected, chained = np.asarray(expected, "float32"), np.asarray(chained, "float32")
    except Exception:  # noqa: BLE001 - any failure means "not a plain chain"
        return None
    same = expected.shape == chained.shape and np.allclose(expected, chained, rtol=1e-4, atol=1e-5)
    return sublayers if same else None
