"""Sliding-window geometry: output sizes and the receptive field of each layer's output.

Per spatial axis, a layer with kernel ``k``, stride ``s`` and dilation ``d`` maps the receptive
field ``r`` and cumulative stride ("jump") ``j`` of its input to (curriculum 000,
``R_t = R_{t-1} + (k_t - 1)·Π S_i``, extended to dilation)::

    k_eff = k + (k - 1)(d - 1)      r_out = r_in + (k_eff - 1)·j_in      j_out = j_in·s

Pooling is a window with ``d = 1``. A transposed conv reads ``ceil(k_eff/s)`` inputs per output and
divides the jump by ``s``; up-sampling divides the jump (bilinear also reads one more input).
Merges (Add, Concatenate, Multiply, ...) take the largest field of their inputs, and their inputs'
jumps should agree. Global pooling, and a Dense layer on a tensor without spatial axes, see the
whole input ("global"). Element-wise and shape-only layers pass the field through; a layer without
a rule makes it unknown (``size is None``). The curriculum's ``min(R, L)`` is ``clipped``: the
field cut to the input's size ``L``; ``size`` is the unclipped value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import keras

from kerasdl.layers.conv_reference import conv_output_size as explicit_padding_output_size

L = keras.layers
WINDOWS = (L.Conv1D, L.Conv2D, L.Conv3D, L.DepthwiseConv1D, L.DepthwiseConv2D,
           L.SeparableConv1D, L.SeparableConv2D)
POOLS = (L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D,
         L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D)
TRANSPOSED = (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)
UPSAMPLING = (L.UpSampling1D, L.UpSampling2D, L.UpSampling3D)
GLOBAL_POOLS = (L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D,
                L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalMaxPooling3D)
MERGES = (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum, L.Concatenate)
PASS_THROUGH = (
    L.Activation, L.ReLU, L.LeakyReLU, L.PReLU, L.ELU, L.Softmax, L.BatchNormalization,
    L.LayerNormalization, L.GroupNormalization, L.UnitNormalization, L.Rescaling, L.Normalization,
    L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D, L.GaussianDropout,
    L.GaussianNoise, L.AlphaDropout, L.ActivityRegularization, L.Identity, L.Flatten, L.Reshape,
    L.Permute, L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D, L.Cropping1D, L.Cropping2D,
    L.Cropping3D,
)
# Element-wise keras.ops called on symbolic tensors (``x + y`` in a functional graph): merges.
ELEMENTWISE_OPS = ("Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum")


def conv_output_size(size: int, kernel: int, stride: int = 1, padding=0, dilation: int = 1) -> int:
    """``floor((l + 2p - k_eff) / s) + 1`` (curriculum 000); ``padding`` is an int, "valid" (0) or
    "same" (Keras/TF: ``ceil(l / s)``, whatever the kernel)."""
    if padding == "same":
        return math.ceil(size / stride)
    pad = 0 if padding == "valid" else int(padding)
    return explicit_padding_output_size(size, kernel, stride, pad, dilation)


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field ``size`` and ``jump`` of one output unit per spatial axis, in input pixels.

    ``extent`` is the spatial size of the input the field is measured on; ``size is None`` means
    unknown (after a layer without a geometric rule); ``is_global`` means the whole input.
    """

    size: tuple | None
    jump: tuple | None
    extent: tuple
    is_global: bool = False

    @classmethod
    def of_input(cls, shape) -> "ReceptiveField":
        """The field of an input pixel: size 1 and jump 1 on each spatial axis."""
        extent = tuple(_spatial(shape, keras.config.image_data_format()))
        return cls((1,) * len(extent), (1,) * len(extent), extent)

    @property
    def clipped(self) -> tuple | None:
        """``min(size, L)`` per axis (the whole input for a global field)."""
        if self.is_global:
            return self.extent
        if self.size is None:
            return None
        return tuple(min(r, e) for r, e in zip(self.size, self.extent))

    def describe(self, clipped: bool = False) -> str:
        """Short text: ``"global"``, ``"?"`` (unknown), ``"212"`` or ``"7x1"`` per axis."""
        if self.is_global and not clipped:
            return "global"
        return _describe(self.clipped if clipped else self.size)

    def describe_jump(self) -> str:
        """The cumulative stride as text (``"-"`` for a global field, where it has no meaning)."""
        return "-" if self.is_global else _describe(self.jump)

    def to_dict(self) -> dict:
        size = "global" if self.is_global else _numbers(self.size)
        return {"size": size, "clipped": _numbers(self.clipped), "jump": _numbers(self.jump)}


def layer_field(layer, fields: list, input_shapes: list) -> tuple:
    """``(ReceptiveField, note)`` at the output of ``layer`` given its inputs' fields."""
    if not fields:
        return ReceptiveField(None, None, ()), ""
    field = fields[0]
    flat_dense = isinstance(layer, L.Dense) and len(input_shapes[0]) <= 2
    if isinstance(layer, GLOBAL_POOLS) or flat_dense:
        return replace(field, is_global=True), ""
    if isinstance(layer, MERGES) or type(layer).__name__ in ELEMENTWISE_OPS:
        return _merge(fields)
    if field.is_global or isinstance(layer, PASS_THROUGH) or isinstance(layer, L.Dense):
        return field, ""
    if field.size is None:
        return field, ""
    if isinstance(layer, WINDOWS):
        return _window(field, layer.kernel_size, layer.strides, layer.dilation_rate), ""
    if isinstance(layer, POOLS):
        return _window(field, layer.pool_size, layer.strides, (1,) * len(field.size)), ""
    if isinstance(layer, TRANSPOSED):
        return _transposed(field, layer.kernel_size, layer.strides, layer.dilation_rate), ""
    if isinstance(layer, UPSAMPLING):
        return _upsampled(field, layer), ""
    return replace(field, size=None), f"receptive field unknown after {type(layer).__name__}"


def _window(field, kernel, strides, dilation):
    kernel, strides, dilation = (_per_axis(v, len(field.size)) for v in (kernel, strides, dilation))
    effective = [k + (k - 1) * (d - 1) for k, d in zip(kernel, dilation)]
    size = tuple(r + (k - 1) * j for r, k, j in zip(field.size, effective, field.jump))
    return replace(field, size=size, jump=tuple(j * s for j, s in zip(field.jump, strides)))


def _transposed(field, kernel, strides, dilation):
    kernel, strides, dilation = (_per_axis(v, len(field.size)) for v in (kernel, strides, dilation))
    reads = [math.ceil((k + (k - 1) * (d - 1)) / s) for k, s, d in zip(kernel, strides, dilation)]
    size = tuple(r + (n - 1) * j for r, n, j in zip(field.size, reads, field.jump))
    return replace(field, size=size, jump=tuple(j / s for j, s in zip(field.jump, strides)))


def _upsampled(field, layer):
    factors = _per_axis(getattr(layer, "size", 2), len(field.size))
    extra = 1 if getattr(layer, "interpolation", "nearest") != "nearest" else 0
    size = tuple(r + extra * j for r, j in zip(field.size, field.jump))
    return replace(field, size=size, jump=tuple(j / f for j, f in zip(field.jump, factors)))


def _merge(fields):
    if any(f.is_global for f in fields):
        return replace(fields[0], is_global=True), ""
    if any(f.size is None for f in fields):
        return replace(fields[0], size=None), ""
    largest = max(fields, key=lambda f: math.prod(f.size))
    jumps = {f.jump for f in fields}
    note = "" if len(jumps) == 1 else f"input jumps differ: {sorted(jumps)}"
    size = tuple(max(axis) for axis in zip(*(f.size for f in fields)))
    return replace(largest, size=size), note


def _spatial(shape, data_format):
    shape = tuple(shape)
    return shape[2:] if data_format == "channels_first" else shape[1:-1]


def _per_axis(value, rank):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank


def _describe(values) -> str:
    if values is None:
        return "?"
    if not values:
        return "-"
    values = [_number(v) for v in values]
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def _number(value):
    return int(value) if float(value).is_integer() else round(float(value), 4)


def _numbers(values):
    return None if values is None else [_number(v) for v in values]
