"""Stacked-hourglass building blocks (Newell et al. 2016, "Stacked Hourglass Networks for Human
Pose Estimation"), as functional blocks in the style of ``kerasdl.layers.blocks``.

An hourglass pools down ``depth`` times and upsamples back; at every scale a skip branch keeps
the features of that resolution and is added to the upsampled coarser result, so the output has
the input's shape and mixes every scale.
"""
from __future__ import annotations

import keras

from kerasdl.layers.blocks import batch_norm


def _bn_relu_conv(x, filters, kernel_size, *, name, use_bias=False):
    x = batch_norm(x, f"{name}_bn")
    x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    return keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=use_bias,
                               name=f"{name}_conv")(x)


def residual_unit(x, filters: int, *, name: str):
    """Pre-activation bottleneck residual unit, the paper's "residual module":
    (BN-ReLU-1x1 conv to filters/2) -> (BN-ReLU-3x3 conv) -> (BN-ReLU-1x1 conv to filters),
    added to the input (through a 1x1 conv when the channel count changes)."""
    if filters % 2:
        raise ValueError(f"residual_unit needs an even number of filters, got {filters}")
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, name=f"{name}_project")(x)
    y = _bn_relu_conv(x, filters // 2, 1, name=f"{name}_reduce")
    y = _bn_relu_conv(y, filters // 2, 3, name=f"{name}_spatial")
    y = _bn_relu_conv(y, filters, 1, name=f"{name}_expand", use_bias=True)
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


def hourglass_block(x, depth: int, filters: int, *, name: str):
    """One hourglass of ``depth`` levels: at each level a residual skip branch at the current
    resolution, plus 2x2 max-pool -> residual unit -> (next level, or a residual unit at the
    bottom) -> residual unit -> nearest 2x upsampling, the two branches added.

    ``x`` must have ``filters`` channels and H, W divisible by ``2**depth``; the output has the
    shape of ``x``.
    """
    height, width, channels = x.shape[1:]
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    if channels != filters:
        raise ValueError(f"hourglass_block keeps the shape: input has {channels} channels, "
                         f"filters={filters}")
    if height is not None and width is not None and (height % 2**depth or width % 2**depth):
        raise ValueError(f"H, W = {height}, {width} must be divisible by 2**depth = {2**depth}")
    skip = residual_unit(x, filters, name=f"{name}_skip")
    low = keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    low = residual_unit(low, filters, name=f"{name}_down")
    if depth > 1:
        low = hourglass_block(low, depth - 1, filters, name=f"{name}_inner")
    else:
        low = residual_unit(low, filters, name=f"{name}_bottom")
    low = residual_unit(low, filters, name=f"{name}_up")
    up = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_upsample")(low)
    return keras.layers.Add(name=f"{name}_merge")([skip, up])
