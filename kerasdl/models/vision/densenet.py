"""DenseNet-BC (Huang et al. 2017, "Densely Connected Convolutional Networks", Table 1), in
torchvision's form: the ResNet stem (7x7/2 conv-BN-ReLU, 3x3/2 max-pool), dense blocks whose layers
are BN-ReLU-1x1 conv (4k) -> BN-ReLU-3x3 conv (k) concatenated onto their input, transitions
BN-ReLU-1x1 conv (compression 0.5) -> 2x2/2 average pool, final BN-ReLU. Bias-free convs;
keras.applications.DenseNet121/169/201 have the same kernels.
"""
from __future__ import annotations

import keras

from kerasdl.layers.blocks import bn_relu, plain_conv
from kerasdl.models.base import register_model
from kerasdl.models.vision.convnet import (ConvNet, classifier_head, image_input, mark_feature,
                                           scaled_channels)
from kerasdl.models.vision.resnet import resnet_stem


def dense_layer(x, growth_rate: int, bottleneck_channels: int, *, name: str):
    """BN-ReLU-1x1 conv -> BN-ReLU-3x3 conv to ``growth_rate`` channels, concatenated onto ``x``."""
    y = plain_conv(bn_relu(x, f"{name}_1"), bottleneck_channels, 1, name=f"{name}_1")
    y = plain_conv(bn_relu(y, f"{name}_2"), growth_rate, 3, name=f"{name}_2")
    return keras.layers.Concatenate(name=f"{name}_concat")([x, y])


def dense_block(x, layers: int, growth_rate: int, bottleneck_channels: int, *, name: str):
    for i in range(1, layers + 1):
        x = dense_layer(x, growth_rate, bottleneck_channels, name=f"{name}_layer{i}")
    return x


def transition(x, filters: int, *, name: str):
    """1x1 conv to ``filters`` -> 2x2/2 average pool, on an input the caller has already passed
    through the transition's BN-ReLU (so that normalised map is the stage's feature map).

    'same' pooling equals torchvision's at even sizes and keeps the last row/column at odd ones
    (28 px: 28 -> 14 -> 7 -> 4, as the ResNets)."""
    x = plain_conv(x, filters, 1, name=name)
    return keras.layers.AveragePooling2D(2, 2, padding="same", name=f"{name}_pool")(x)


def _register(name, blocks, params, *, growth_rate=32, stem_channels=64, heavy=False):
    defaults = {"blocks": blocks, "growth_rate": growth_rate, "stem_channels": stem_channels}
    return register_model(
        name, tags=("vision", "classifier", "densenet"), defaults=defaults,
        task="classification", deployable=True, heavy=heavy, params=params,
        params_source=f"torchvision.models.{name} (num_params in "
                      f"DenseNet{name[8:]}_Weights.IMAGENET1K_V1.meta)",
        small={"width": 0.25, "blocks": (1, 1), "input_shape": (32, 32, 3),
               "num_classes": 5, "small_input": True})


@_register("densenet121", (6, 12, 24, 16), 7_978_856)
@_register("densenet169", (6, 12, 32, 32), 14_149_480, heavy=True)
@_register("densenet201", (6, 12, 48, 32), 20_013_928, heavy=True)
@_register("densenet161", (6, 12, 36, 24), 28_681_000, growth_rate=48, stem_channels=96,
           heavy=True)
class DenseNet(ConvNet):
    """DenseNet-BC; see the module docstring. ``blocks`` = layers per dense block, ``growth_rate``
    k, ``bottleneck_factor`` x k channels in each 1x1 conv, ``compression`` of the transitions;
    ``width`` scales k and the stem. The default build is DenseNet-121."""

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.0, blocks=(6, 12, 24, 16), growth_rate=32, stem_channels=64,
                    bottleneck_factor=4, compression=0.5):
        growth = scaled_channels(growth_rate, width)
        inputs = image_input(input_shape)
        x = resnet_stem(inputs, scaled_channels(stem_channels, width), small_input)
        for s, layers in enumerate(blocks, start=1):
            x = dense_block(x, layers, growth, bottleneck_factor * growth, name=f"stage{s}")
            last = s == len(blocks)
            x = mark_feature(bn_relu(x, "post" if last else f"stage{s}_transition"), inputs)
            if not last:
                x = transition(x, int(x.shape[-1] * compression), name=f"stage{s}_transition")
        return inputs, classifier_head(x, num_classes, dropout)
