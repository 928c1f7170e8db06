"""Context modules over an encoder's deep features: dilated residual stages (the atrous
"output stride" trick of DeepLab and PSPNet), ASPP (DeepLab v2's sum of atrous scores; v3's
parallel atrous convs + image pooling + BN) and PSPNet's pyramid pooling module."""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.layers.blocks import conv_bn_act
from kerasdl.models.segmentation.common import logits_head, resize_to


def atrous_stage(x, filters: int, dilation_rate: int, blocks: int = 2, *, name: str):
    """``blocks`` residual blocks of two 3x3 convs dilated by ``dilation_rate`` (stride 1): the
    deeper stage that DeepLab/PSPNet run at the output stride instead of downsampling."""
    for b in range(1, blocks + 1):
        shortcut = x if x.shape[-1] == filters else conv_bn_act(x, filters, 1, activation=None,
                                                                 name=f"{name}{b}_shortcut")
        y = conv_bn_act(x, filters, 3, dilation_rate=dilation_rate, name=f"{name}{b}_1")
        y = conv_bn_act(y, filters, 3, dilation_rate=dilation_rate, activation=None, name=f"{name}{b}_2")
        x = keras.layers.Activation("relu", name=f"{name}{b}_out")(
            keras.layers.Add(name=f"{name}{b}_add")([shortcut, y]))
    return x


def aspp(x, filters: int, rates, *, image_pooling: bool = True, name: str = "aspp"):
    """DeepLab v3 ASPP (Chen et al. 2017, Sec. 3.3): a 1x1 conv, 3x3 convs at each atrous rate and
    (``image_pooling``) global average pooling -> 1x1 conv -> upsampled back, all conv-BN-ReLU,
    concatenated and projected by a 1x1 conv-BN-ReLU."""
    branches = [conv_bn_act(x, filters, 1, name=f"{name}_1x1")]
    branches += [conv_bn_act(x, filters, 3, dilation_rate=r, name=f"{name}_rate{r}") for r in rates]
    if image_pooling:
        pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_image_pool")(x)
        pooled = conv_bn_act(pooled, filters, 1, name=f"{name}_image")
        # broadcast back (nearest upsampling of the 1x1 map: the same constant as a bilinear one)
        branches.append(keras.layers.UpSampling2D(tuple(x.shape[1:3]), name=f"{name}_image_up")(pooled))
    x = keras.layers.Concatenate(name=f"{name}_concat")(branches)
    return conv_bn_act(x, filters, 1, name=f"{name}_project")


def aspp_scores(x, num_classes: int, rates, *, name: str = "aspp"):
    """DeepLab v2 ASPP-L (Chen et al. 2018, Fig. 4): one 3x3 atrous conv to class scores per rate,
    summed (no BN, no image pooling)."""
    scores = [keras.layers.Conv2D(num_classes, 3, padding="same", dilation_rate=r, dtype="float32",
                                  name=f"{name}_rate{r}")(x) for r in rates]
    return keras.layers.Add(name=f"{name}_sum")(scores) if len(scores) > 1 else scores[0]


def adaptive_pool_matrix(size: int, bins: int) -> np.ndarray:
    """[bins, size] averaging weights of PyTorch's ``AdaptiveAvgPool``: bin i averages
    ``[floor(i·n/b), ceil((i+1)·n/b))``."""
    m = np.zeros((bins, size), np.float32)
    for i in range(bins):
        lo, hi = (i * size) // bins, -(-(i + 1) * size // bins)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


@keras.saving.register_keras_serializable(package="kerasdl")
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """[B, H, W, C] -> [B, bins, bins, C] as PyTorch's ``AdaptiveAvgPool2d(bins)`` (PSPNet's bins
    1, 2, 3, 6 need not divide H, W): two fixed averaging matmuls
    (TFLite BATCH_MATMUL; an einsum form converts to tensors of invalid size)."""

    def __init__(self, bins: int, **kwargs):
        super().__init__(**kwargs)
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        self.bins = int(bins)

    def call(self, x):
        ops = keras.ops
        rows = ops.convert_to_tensor(adaptive_pool_matrix(x.shape[1], self.bins), x.dtype)
        cols = ops.convert_to_tensor(adaptive_pool_matrix(x.shape[2], self.bins), x.dtype)
        x = ops.matmul(ops.transpose(x, (0, 2, 3, 1)), ops.transpose(rows))  # [B, W, C, bins]
        x = ops.matmul(ops.transpose(x, (0, 3, 2, 1)), ops.transpose(cols))  # [B, bins, C, bins]
        return ops.transpose(x, (0, 1, 3, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bins, self.bins, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


def pyramid_pooling(x, bins=(1, 2, 3, 6), *, name: str = "ppm"):
    """PSPNet's pyramid pooling module (Zhao et al. 2017, Fig. 3): adaptive average pooling to
    each bin size, 1x1 conv-BN-ReLU to C/len(bins) channels, bilinear upsampling, concatenated with
    the input map."""
    reduced = max(1, x.shape[-1] // len(bins))
    levels = [x]
    for b in bins:
        y = AdaptiveAveragePooling2D(b, name=f"{name}_pool{b}")(x)
        y = conv_bn_act(y, reduced, 1, name=f"{name}_bin{b}")
        levels.append(resize_to(y, x.shape[1:3], f"{name}_up{b}"))
    return keras.layers.Concatenate(name=f"{name}_concat")(levels)


def classifier(x, num_classes: int, filters: int, size, *, name: str = "head", dropout: float = 0.0):
    """3x3 conv-BN-ReLU -> [dropout] -> 1x1 class scores -> bilinear resize to ``size``."""
    x = conv_bn_act(x, filters, 3, name=name)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return resize_to(logits_head(x, num_classes, f"{name}_scores"), size, "logits")
