"""What every segmentation network shares: an image input, encoder features taken from a
registered kerasdl CNN (its named ``feature_stride{s}`` maps), per-pixel float32 logits, bilinear
resizing, and a bilinear-interpolation initializer for transposed convs (FCN, Long et al. 2015).

Every model maps images [B, H, W, C] to per-pixel class logits [B, H, W, num_classes] (no softmax).
"""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.layers.blocks import conv_bn_act

TASK = dict(task="segmentation", deployable=True)
TAGS = ("vision", "segmentation")
SMALL_INPUT = (32, 32, 1)
SMALL_BACKBONE = {"width": 0.125, "blocks": (1, 1, 1, 1)}  # ResNet-18 form, 8-64 channels


def backbone_features(inputs_shape, backbone: str, backbone_kwargs: dict | None = None):
    """``(inputs, {stride: tensor})``: the feature maps of the registered CNN ``backbone`` (any
    ``ConvNet``: resnet18, vgg11, mobilenet_v2, ...) built for ``inputs_shape``. The classifier
    head is built but left out of any graph that ends in these maps."""
    from kerasdl.registry import create_model

    net = create_model(backbone, input_shape=tuple(inputs_shape), **(backbone_kwargs or {}))
    if not hasattr(net, "feature_strides"):
        raise ValueError(f"backbone {backbone!r} exposes no feature maps (not a kerasdl ConvNet)")
    return net.inputs[0], {s: net.get_layer(f"feature_stride{s}").output for s in net.feature_strides}


def pick(features: dict, stride: int, backbone: str):
    if stride not in features:
        raise ValueError(f"backbone {backbone!r} has no stride-{stride} feature map "
                         f"(it has {sorted(features)}); use another backbone or input size")
    return features[stride]


def logits_head(x, num_classes: int, name: str = "logits"):
    """1x1 conv to class scores, kept in float32 under mixed precision."""
    return keras.layers.Conv2D(num_classes, 1, dtype="float32", name=name)(x)


@keras.saving.register_keras_serializable(package="kerasdl")
class Resize(keras.layers.Layer):
    """``keras.ops.image.resize`` of a feature map to ``size`` = (H, W) (TFLite RESIZE_BILINEAR,
    half-pixel centres). Not ``keras.layers.Resizing``: as a preprocessing layer it drops the
    call's training flag (Keras 3.15), so a model called without ``training=`` (eager calls, the
    SavedModel/TFLite trace) ran every BatchNorm after it on batch statistics — the TFLite parity
    errors of 2.4 that PSPNet and DeepLab v3+ had (tests/test_segmentation_models.py)."""

    def __init__(self, size, interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.size, self.interpolation = tuple(int(s) for s in size), interpolation

    def call(self, x):
        return keras.ops.image.resize(x, self.size, interpolation=self.interpolation)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "interpolation": self.interpolation}


def resize_to(x, size, name: str, interpolation: str = "bilinear"):
    """Resize a map to ``size`` = (H, W) with :class:`Resize`."""
    if tuple(x.shape[1:3]) == tuple(size):
        return x
    return Resize(size, interpolation, name=name)(x)


def conv_block(x, filters: int, convs: int = 2, *, name: str, dilation_rate: int = 1):
    """``convs`` 3x3 conv-BN-ReLU (U-Net's double conv, SegNet's and decoders' stages)."""
    for i in range(1, convs + 1):
        x = conv_bn_act(x, filters, 3, dilation_rate=dilation_rate, name=f"{name}_{i}")
    return x


def bilinear_kernel(kernel_size: int, channels: int) -> np.ndarray:
    """[k, k, C, C] weights with which a stride-s transposed conv (k = 2s) interpolates each
    channel bilinearly (FCN's ``upsample_filt``, surgery.py): 1 - |x - c| / f on the diagonal."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = np.arange(kernel_size)
    filt = (1 - abs(og - center) / factor)
    weights = np.zeros((kernel_size, kernel_size, channels, channels), np.float32)
    for c in range(channels):
        weights[:, :, c, c] = np.outer(filt, filt)
    return weights


@keras.saving.register_keras_serializable(package="kerasdl")
class BilinearInitializer(keras.initializers.Initializer):
    """Initialise a ``Conv2DTranspose`` kernel [k, k, C_out, C_in] (C_out == C_in) as bilinear
    upsampling (:func:`bilinear_kernel`)."""

    def __call__(self, shape, dtype=None):
        k, k2, out, inp = shape
        if k != k2 or out != inp:
            raise ValueError(f"bilinear init needs a square kernel and C_out == C_in, got {shape}")
        return keras.ops.convert_to_tensor(bilinear_kernel(k, out), dtype=dtype)

    def get_config(self):
        return {}


def bilinear_upsample(x, stride: int, *, name: str, trainable: bool = True):
    """FCN's learnable upsampling: ``Conv2DTranspose(C, 2·stride, stride, "same")``, bilinear-
    initialised, no bias; output side = stride · input side."""
    return keras.layers.Conv2DTranspose(x.shape[-1], 2 * stride, stride, padding="same", use_bias=False,
                                        kernel_initializer=BilinearInitializer(), trainable=trainable,
                                        dtype="float32", name=name)(x)
