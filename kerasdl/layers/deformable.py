"""Modulated deformable convolution, DCNv2 (Zhu et al. 2019, "Deformable ConvNets v2").

Each kernel tap ``k`` of each output position ``p`` samples the input at ``p0 + p_k + Δp_k``
(regular grid position plus a learnt fractional offset) by bilinear interpolation, scales the
sample by a modulation ``Δm_k``, and the samples are multiplied by the kernel as in a regular
conv. Everything is written with gather / floor / clip / matmul, ops that XLA and TFLite built-ins
both support; samples falling outside the image read zero, as zero padding does.

Offset layout (as ``torchvision.ops.deform_conv2d``): channel ``2·(g·K + k) + {0: dy, 1: dx}``
for offset group ``g`` and tap ``k = a·kw + b`` (row-major over the kernel), ``K = kh·kw``;
modulation channel ``g·K + k``. Offset group ``g`` moves the taps of input channels
``[g·C/G, (g + 1)·C/G)``.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasdl.layers.conv_reference import conv_output_size, padding_amounts


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if np.isscalar(value) else tuple(int(v) for v in value)


def sampling_geometry(input_size, kernel_size, strides=1, padding="same", dilation_rate=1):
    """Regular sampling grid of a conv, before offsets.

    Returns ``(output_size, base_y, base_x)``: ``output_size = (Ho, Wo)`` and float32 arrays of
    shape ``(Ho·Wo, kh·kw)`` holding the input row / column each tap of each output reads
    (negative or ``>= H`` where it falls in the padding).
    """
    axes = list(zip(input_size, _pair(kernel_size), _pair(strides), _pair(dilation_rate)))
    starts, taps, sizes = [], [], []
    for n, k, s, d in axes:
        before, after = padding_amounts(n, k, s, d, padding)
        size = conv_output_size(n + before + after, k, s, 0, d)
        starts.append(np.arange(size) * s - before)
        taps.append(np.arange(k) * d)
        sizes.append(size)
    rows = starts[0][:, None, None, None] + taps[0][None, None, :, None]  # (Ho, 1, kh, 1)
    cols = starts[1][None, :, None, None] + taps[1][None, None, None, :]  # (1, Wo, 1, kw)
    grid_shape = (sizes[0], sizes[1], len(taps[0]), len(taps[1]))
    base_y = np.broadcast_to(rows, grid_shape).reshape(sizes[0] * sizes[1], -1)
    base_x = np.broadcast_to(cols, grid_shape).reshape(sizes[0] * sizes[1], -1)
    return tuple(sizes), base_y.astype(np.float32), base_x.astype(np.float32)


def _bilinear_corners(y, x, height, width, groups, taps):
    """Flat gather indices and weights of the four bilinear neighbours of each sample point.

    ``y``, ``x``: float32 ``(N, P, G·K)`` sample coordinates. Returns int32 indices into the
    ``(H·W·G)`` rows of the group-split input and float32 weights, both ``(N, P, G·K, 4)``;
    neighbours outside the image get weight 0 (and a clipped, harmless index).
    """
    group_of_tap = np.repeat(np.arange(groups, dtype=np.int32), taps)  # (G·K,)
    y0, x0 = ops.floor(y), ops.floor(x)
    fy, fx = y - y0, x - x0
    indices, weights = [], []
    for dy, dx, weight in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx),
                           (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        row, col = y0 + dy, x0 + dx
        inside = ops.logical_and(ops.logical_and(row >= 0, row <= height - 1),
                                 ops.logical_and(col >= 0, col <= width - 1))
        weights.append(weight * ops.cast(inside, "float32"))
        pixel = ops.clip(row, 0, height - 1) * width + ops.clip(col, 0, width - 1)
        indices.append(ops.cast(pixel, "int32") * groups + group_of_tap)
    return ops.stack(indices, axis=-1), ops.stack(weights, axis=-1)


def deformable_conv2d(x, kernel, offsets, modulation=None, strides=1, padding="same",
                      dilation_rate=1):
    """Modulated deformable conv of NHWC ``x`` (static H, W, C) with HWIO ``kernel``, no bias.

    ``offsets``: ``(N, Ho, Wo, 2·G·K)`` in the module's layout, ``G`` (offset groups) inferred
    from its channel count; ``modulation``: ``(N, Ho, Wo, G·K)`` or ``None`` for all ones.
    Zero offsets and unit modulation give exactly ``Conv2D(padding, strides, dilation_rate)``.
    """
    _, height, width, channels = x.shape
    kh, kw, kernel_channels, filters = kernel.shape
    if None in (height, width, channels) or channels != kernel_channels:
        raise ValueError(f"need static H, W, C matching the kernel; got input {x.shape}, "
                         f"kernel {kernel.shape}")
    taps = kh * kw
    groups = offsets.shape[-1] // (2 * taps)
    if groups * 2 * taps != offsets.shape[-1] or channels % groups:
        raise ValueError(f"offsets need 2·G·{taps} channels with G dividing {channels}, got "
                         f"{offsets.shape[-1]}")
    (out_h, out_w), base_y, base_x = sampling_geometry((height, width), (kh, kw), strides,
                                                       padding, dilation_rate)
    positions = out_h * out_w
    # Sample coordinates in float32 even under mixed precision: bf16 cannot hold pixel positions.
    offsets = ops.reshape(ops.cast(offsets, "float32"), (-1, positions, groups * taps, 2))
    offset_y, offset_x = ops.unstack(offsets, 2, axis=-1)
    indices, weights = _bilinear_corners(offset_y + np.tile(base_y, groups),
                                         offset_x + np.tile(base_x, groups),
                                         height, width, groups, taps)
    if modulation is not None:
        modulation = ops.reshape(ops.cast(modulation, "float32"), (-1, positions, groups * taps))
        weights = weights * ops.expand_dims(modulation, -1)
    group_rows = ops.reshape(x, (-1, height * width * groups, channels // groups))
    neighbours = tf.gather(group_rows, indices, batch_dims=1)  # (N, P, G·K, 4, C/G)
    samples = ops.sum(neighbours * ops.expand_dims(ops.cast(weights, x.dtype), -1), axis=3)
    columns = ops.reshape(samples, (-1, groups * taps * (channels // groups)))
    # Kernel rows reordered (kh·kw, G, C/G) -> (G, kh·kw, C/G) to match the columns.
    kernel_matrix = ops.reshape(
        ops.transpose(ops.reshape(kernel, (taps, groups, channels // groups, filters)),
                      (1, 0, 2, 3)), (-1, filters))
    return ops.reshape(ops.matmul(columns, kernel_matrix), (-1, out_h, out_w, filters))


@keras.saving.register_keras_serializable(package="kerasdl")
class DeformableConv2D(keras.layers.Layer):
    """DCNv2 layer: an internal ``Conv2D`` (same kernel size, strides, padding and dilation)
    predicts ``2·G·K`` offsets and ``G·K`` modulation logits ``z`` per output position.

    The modulation is ``m = 2·sigmoid(z)`` (the paper uses ``sigmoid(z)``): with the offset conv
    zero-initialised, ``m = 1`` and offsets are 0, so the layer starts *exactly* as a regular conv
    with its own kernel. ``call(inputs, offsets=..., modulation=...)`` bypasses the offset conv
    with explicit tensors (modulation defaults to ones). Strides > 1 together with dilation > 1
    are refused, as by ``Conv2D``; the function ``deformable_conv2d`` accepts them.
    """

    def __init__(self, filters, kernel_size=3, strides=1, padding="same", dilation_rate=1,
                 use_bias=True, offset_groups=1, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters, self.offset_groups, self.use_bias = int(filters), int(offset_groups), use_bias
        self.kernel_size, self.strides = _pair(kernel_size), _pair(strides)
        self.dilation_rate, self.padding = _pair(dilation_rate), padding.lower()
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.taps = self.kernel_size[0] * self.kernel_size[1]
        self.offset_conv = keras.layers.Conv2D(
            3 * self.offset_groups * self.taps, self.kernel_size, self.strides, self.padding,
            dilation_rate=self.dilation_rate, kernel_initializer="zeros",
            dtype=self.dtype_policy, name="offset_conv")

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.offset_groups:
            raise ValueError(f"offset_groups={self.offset_groups} must divide the {channels} "
                             "input channels")
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(
            name="bias", shape=(self.filters,), initializer=self.bias_initializer,
            regularizer=self.bias_regularizer) if self.use_bias else None
        self.offset_conv.build(input_shape)
        self.built = True

    def call(self, inputs, offsets=None, modulation=None):
        if offsets is None:
            predicted = self.offset_conv(inputs)
            offsets, logits = ops.split(predicted, [2 * self.offset_groups * self.taps], axis=-1)
            modulation = 2.0 * ops.sigmoid(logits)
        outputs = deformable_conv2d(inputs, self.kernel, offsets, modulation, self.strides,
                                    self.padding, self.dilation_rate)
        return outputs + self.bias if self.use_bias else outputs

    def compute_output_shape(self, input_shape):
        return self.offset_conv.compute_output_shape(input_shape)[:-1] + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "padding": self.padding,
            "dilation_rate": self.dilation_rate, "use_bias": self.use_bias,
            "offset_groups": self.offset_groups,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
        }
