"""FLOPs and MACs of one layer call: one image (batch 1), inference, following curriculum 001 §7.

A MAC is one multiply-accumulate of a conv or dense layer. A FLOP is one arithmetic operation or one
evaluation of an elementary function (exp, tanh, erf, ...). ``H, W`` are output sizes unless noted:

==========================  =================================================================
conv (grouped, dilated)     MACs = Ci/g·K²·H·W·Co; FLOPs = (2·Ci/g·K² - 1)·H·W·Co without bias,
                            2·Ci/g·K²·H·W·Co with bias (n products need n-1 adds; a bias adds 1).
                            Dilation changes neither: the kernel still has K² taps.
depthwise conv              the same with Ci/g = 1: 2·K²·H·W·C with bias (C·multiplier channels)
separable conv              depthwise (no bias) + pointwise 1x1 (Keras puts the bias there only)
transposed conv             MACs = Ci·K²·Co·H_in·W_in (each input is scattered over K² outputs);
                            FLOPs = 2·MACs (+ H·W·Co with bias), as TF's profiler counts it
dense                       MACs = I·O; FLOPs = (2I - 1)·O without bias, 2I·O with bias
                            (per position when applied to the last axis of a sequence/map)
pooling                     k²·H·W·C (one comparison or add per window element)
global pooling              H_in·W_in·C (each input once)
batch normalization         2 per element: at inference it folds into one scale and one shift
rescaling, normalization    2 per element (multiply, add)
add/subtract/multiply/...   (n - 1) per output element for n inputs; average n
activations                 per element, see ``ACTIVATION_FLOPS``: ReLU 1 (a comparison) and
                            sigmoid 4 (negate, exp, add, divide) as in the curriculum
time-distributed            the wrapped layer's cost on one frame times the frames (axis 1)
zero                        UpSampling (interpolation arithmetic not counted), ZeroPadding,
                            Cropping, Flatten, Reshape, Permute, Concatenate, Dropout/noise
                            (inference), Identity, Embedding (a lookup)
==========================  =================================================================

A conv or dense layer's fused ``activation`` is added to its count. Layers without a rule return
``None`` here; ``kerasdl.analysis.report`` then counts them with TensorFlow's profiler.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import keras

from kerasdl.analysis.receptive_field import (ELEMENTWISE_OPS, GLOBAL_POOLS, MERGES, POOLS,
                                              TRANSPOSED, UPSAMPLING)

L = keras.layers

ACTIVATION_FLOPS = {
    "linear": 0, "relu": 1, "relu6": 2, "leaky_relu": 2, "elu": 3, "selu": 4, "celu": 4,
    "sigmoid": 4, "hard_sigmoid": 4, "log_sigmoid": 5, "silu": 5, "swish": 5, "hard_silu": 5,
    "hard_swish": 5, "tanh": 1, "hard_tanh": 2, "gelu": 5, "softplus": 3, "softsign": 3,
    "mish": 5, "exponential": 1, "softmax": 5, "log_softmax": 5,
}  # gelu: erf form x·(1 + erf(x/√2))/2; softmax: 5 as TF's profiler (shift 2, exp 1, normalise 2)
UNKNOWN_ACTIVATION_FLOPS = 1

CONVS = (L.Conv1D, L.Conv2D, L.Conv3D)
DEPTHWISE = (L.DepthwiseConv1D, L.DepthwiseConv2D)
SEPARABLE = (L.SeparableConv1D, L.SeparableConv2D)
AFFINE = (L.BatchNormalization, L.Rescaling, L.Normalization)
FREE = (L.InputLayer, L.Flatten, L.Reshape, L.Permute, L.RepeatVector, L.Concatenate, L.Identity,
        L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D, L.GaussianDropout,
        L.GaussianNoise, L.AlphaDropout, L.ActivityRegularization, L.ZeroPadding1D,
        L.ZeroPadding2D, L.ZeroPadding3D, L.Cropping1D, L.Cropping2D, L.Cropping3D, L.Embedding,
        *UPSAMPLING)


@dataclass(frozen=True)
class Cost:
    """Multiply-accumulates and floating-point operations of one call, with a note on the rule."""

    macs: int = 0
    flops: int = 0
    note: str = ""

    def __add__(self, other: "Cost") -> "Cost":
        note = "; ".join(n for n in (self.note, other.note) if n)
        return Cost(self.macs + other.macs, self.flops + other.flops, note)


def elements(shape) -> int:
    """Elements of one example (the batch axis is dropped); fails on unknown sizes."""
    dims = tuple(shape)[1:]
    if any(d is None for d in dims):
        raise ValueError(f"FLOPs need static shapes; got {tuple(shape)} (pass a fixed input_shape)")
    return math.prod(dims)


def activation_cost(name: str, count: int) -> Cost:
    """FLOPs of activation ``name`` applied to ``count`` elements."""
    if name in ACTIVATION_FLOPS:
        return Cost(flops=ACTIVATION_FLOPS[name] * count)
    return Cost(flops=UNKNOWN_ACTIVATION_FLOPS * count,
                note=f"activation {name!r} counted {UNKNOWN_ACTIVATION_FLOPS}/element")


def layer_cost(layer, input_shapes: list, output_shapes: list) -> Cost | None:
    """The cost of calling ``layer`` on inputs of ``input_shapes`` (with a batch axis), or
    ``None`` when no rule of this module covers the layer."""
    for classes, rule in _RULES:
        if isinstance(layer, classes):
            return rule(layer, input_shapes, output_shapes)
    if not isinstance(layer, L.Layer) and type(layer).__name__ in ELEMENTWISE_OPS:
        return Cost(flops=max(1, len(input_shapes) - 1) * elements(output_shapes[0]))
    return None


def _with_bias(macs: int, outputs: int, use_bias: bool) -> int:
    """A sum of n products costs 2n - 1 FLOPs; with a bias 2n."""
    return 2 * macs - (0 if use_bias else outputs)


def _channels(layer, shape) -> int:
    channels_first = getattr(layer, "data_format", "channels_last") == "channels_first"
    return shape[1] if channels_first else shape[-1]


def _fused_activation(layer, output_shape) -> Cost:
    function = getattr(layer, "activation", None)
    name = getattr(function, "__name__", "linear")
    return activation_cost(name, elements(output_shape))


def _conv(layer, ins, outs):
    out = elements(outs[0])
    macs = _channels(layer, ins[0]) // layer.groups * math.prod(layer.kernel_size) * out
    return Cost(macs, _with_bias(macs, out, layer.use_bias)) + _fused_activation(layer, outs[0])


def _depthwise(layer, ins, outs):
    out = elements(outs[0])
    macs = math.prod(layer.kernel_size) * out
    return Cost(macs, _with_bias(macs, out, layer.use_bias)) + _fused_activation(layer, outs[0])


def _separable(layer, ins, outs):
    out = elements(outs[0])
    channels = _channels(layer, ins[0]) * layer.depth_multiplier
    between = out // layer.filters * channels  # the depthwise output, before the 1x1 conv
    depthwise = math.prod(layer.kernel_size) * between
    pointwise = channels * out
    flops = _with_bias(depthwise, between, False) + _with_bias(pointwise, out, layer.use_bias)
    return Cost(depthwise + pointwise, flops) + _fused_activation(layer, outs[0])


def _transposed(layer, ins, outs):
    macs = elements(ins[0]) * math.prod(layer.kernel_size) * layer.filters
    bias = elements(outs[0]) if layer.use_bias else 0
    return Cost(macs, 2 * macs + bias) + _fused_activation(layer, outs[0])


def _dense(layer, ins, outs):
    out = elements(outs[0])
    macs = ins[0][-1] * out
    return Cost(macs, _with_bias(macs, out, layer.use_bias)) + _fused_activation(layer, outs[0])


def _pooling(layer, ins, outs):
    return Cost(flops=math.prod(layer.pool_size) * elements(outs[0]))


def _global_pooling(layer, ins, outs):
    return Cost(flops=elements(ins[0]))


def _merge(layer, ins, outs):
    per_element = len(ins) if isinstance(layer, L.Average) else len(ins) - 1
    return Cost(flops=per_element * elements(outs[0]))


def _activation_layer(layer, ins, outs):
    return _fused_activation(layer, outs[0])


def _relu_layer(layer, ins, outs):
    per_element = 1 + (layer.max_value is not None) + (layer.negative_slope != 0)
    return Cost(flops=per_element * elements(outs[0]))


def _time_distributed(layer, ins, outs):
    """The wrapped layer's cost on one frame, times the number of frames (axis 1)."""
    frames = ins[0][1]
    inner = layer_cost(layer.layer, [(ins[0][0], *ins[0][2:])], [(outs[0][0], *outs[0][2:])])
    return None if inner is None or frames is None else Cost(inner.macs * frames, inner.flops * frames,
                                                              inner.note)


def _per_element(count):
    return lambda layer, ins, outs: Cost(flops=count * elements(outs[0]))


_RULES = (
    (CONVS, _conv), (DEPTHWISE, _depthwise), (SEPARABLE, _separable), (TRANSPOSED, _transposed),
    (L.Dense, _dense), (POOLS, _pooling), (GLOBAL_POOLS, _global_pooling),
    (tuple(m for m in MERGES if m is not L.Concatenate), _merge),
    (L.Activation, _activation_layer), (L.ReLU, _relu_layer),
    ((L.LeakyReLU, L.PReLU), _per_element(ACTIVATION_FLOPS["leaky_relu"])),
    (L.ELU, _per_element(ACTIVATION_FLOPS["elu"])),
    (L.Softmax, _per_element(ACTIVATION_FLOPS["softmax"])),
    (AFFINE, _per_element(2)), (FREE, _per_element(0)), (L.TimeDistributed, _time_distributed),
)
