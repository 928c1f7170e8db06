"""Functional building blocks shared by the CNN families.

Blocks are functions that wire standard Keras layers (``x = conv_bn_act(x, 64, name="stem")``),
as keras.applications does: the model graph stays flat, so ``summary()``, the analysis tools
(per-layer FLOPs, receptive field) and TFLite conversion see every conv. Layer names derive from
``name`` and must be unique within a model.
"""
from __future__ import annotations

import keras

from kerasdl.layers.conv import GroupedConv2D

BN_MOMENTUM = 0.9  # PyTorch's 0.1; see kerasdl.layers.conv.ConvBNAct for why not Keras' 0.99
BN_EPSILON = 1e-5


def batch_norm(x, name: str, **kwargs):
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name,
                                           **kwargs)(x)


def conv2d(filters: int, kernel_size, strides=1, *, groups: int = 1, **kwargs):
    """keras Conv2D, or kerasdl's GroupedConv2D (fast on CPU) when ``groups > 1``."""
    layer = GroupedConv2D if groups > 1 else keras.layers.Conv2D
    return layer(filters, kernel_size, strides, groups=groups, **kwargs)


def plain_conv(x, filters: int, kernel_size=3, strides=1, *, name: str, groups: int = 1):
    """A bias-free 'same' Conv2D named ``{name}_conv`` (a conv that a BN follows or precedes)."""
    return conv2d(filters, kernel_size, strides, padding="same", groups=groups, use_bias=False,
                  name=f"{name}_conv")(x)


def bn_relu(x, name: str):
    """BatchNorm -> ReLU (``{name}_bn``, ``{name}_act``): the pre-activation of v2 blocks."""
    return keras.layers.Activation("relu", name=f"{name}_act")(batch_norm(x, f"{name}_bn"))


def conv_bn_act(x, filters: int, kernel_size=3, strides=1, *, name: str, activation="relu",
                groups: int = 1, dilation_rate=1, padding="same", use_bias=False):
    """Conv2D (no bias) -> BatchNorm -> activation (``None`` for a linear projection)."""
    x = conv2d(filters, kernel_size, strides, padding=padding, groups=groups,
               dilation_rate=dilation_rate, use_bias=use_bias, name=f"{name}_conv")(x)
    x = batch_norm(x, f"{name}_bn")
    return keras.layers.Activation(activation, name=f"{name}_act")(x) if activation else x


def depthwise_bn_act(x, kernel_size=3, strides=1, *, name: str, activation="relu",
                     dilation_rate=1, padding="same"):
    """DepthwiseConv2D (no bias) -> BatchNorm -> activation."""
    x = keras.layers.DepthwiseConv2D(kernel_size, strides, padding=padding, use_bias=False,
                                     dilation_rate=dilation_rate, name=f"{name}_dwconv")(x)
    x = batch_norm(x, f"{name}_bn")
    return keras.layers.Activation(activation, name=f"{name}_act")(x) if activation else x


def squeeze_excite(x, squeeze_channels: int, *, name: str, activation="relu",
                   gate="sigmoid"):
    """Squeeze-and-Excitation (Hu et al. 2018): global average pool -> 1x1 conv to
    ``squeeze_channels`` -> activation -> 1x1 conv back -> gate -> channel-wise rescale of ``x``.

    1x1 convs with bias are the FC layers of the paper (same parameters: C·r + r + r·C + C).
    """
    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = keras.layers.Conv2D(squeeze_channels, 1, activation=activation, name=f"{name}_reduce")(s)
    s = keras.layers.Conv2D(channels, 1, activation=gate, name=f"{name}_expand")(s)
    return keras.layers.Multiply(name=f"{name}_scale")([x, s])


def conv_relu(x, filters: int, kernel_size, strides=1, *, padding="same", name: str):
    """Conv2D (with bias) + ReLU, He-initialised (He et al. 2015, torchvision's VGG init): the
    Glorot default shrinks the signal through stacks of ReLU convs without BatchNorm."""
    return keras.layers.Conv2D(filters, kernel_size, strides, padding=padding, activation="relu",
                               kernel_initializer="he_normal", name=name)(x)


def conv_relu_maybe_bn(x, filters: int, kernel_size, strides=1, *, batch_norm: bool,
                       bn_bias: bool = False, padding="same", name: str):
    """``conv_bn_act`` (conv bias kept only if ``bn_bias``) when ``batch_norm``, else ``conv_relu``:
    the classic nets' conv -> ReLU with an optional BatchNorm (VGG-BN, NiN-BN)."""
    if batch_norm:
        return conv_bn_act(x, filters, kernel_size, strides, padding=padding, use_bias=bn_bias,
                           name=name)
    return conv_relu(x, filters, kernel_size, strides, padding=padding, name=name)


def max_pool_ceil(x, pool_size: int = 3, strides: int = 2, *, name: str):
    """PyTorch's ``MaxPool2d(ceil_mode=True)``: ``ceil((n - k) / s) + 1`` outputs per side.

    The extra bottom/right cells are zero-padded, which is exact for non-negative (post-ReLU)
    inputs — the only ones GoogLeNet and SqueezeNet pool.
    """
    pads = []
    for size in x.shape[1:3]:
        outputs = -(-(size - pool_size) // strides) + 1
        pads.append((0, max(0, (outputs - 1) * strides + pool_size - size)))
    if any(after for _, after in pads):
        x = keras.layers.ZeroPadding2D(tuple(pads), name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(pool_size, strides, name=name)(x)
