"""The first ConvNets of the curriculum: LeNet-5, AlexNet, VGG and Network in Network.

Plain conv (+bias) -> activation layers, pooling and either a fully connected head (LeNet,
AlexNet, VGG) or NiN's global average pooling of per-class maps (``class_map_logits``, which
SqueezeNet reuses). AlexNet and VGG follow torchvision's definitions, so their parameter counts
are torchvision's. Their ``small_input`` forms (3x3 stride-1 stem, fewer poolings) replace the
huge flatten -> 4096 -> 4096 head by global average pooling -> dropout -> logits.
"""
from __future__ import annotations

import functools

import keras

from kerasdl.layers.blocks import conv_relu, conv_relu_maybe_bn
from kerasdl.models.base import register_model
from kerasdl.models.vision.convnet import (CLASSIFIER, TINY, ConvNet, class_map_logits,
                                           classifier_head, image_input, mark_feature,
                                           scaled_channels)


def fc_head(x, hidden_units, num_classes: int, dropout: float = 0.0, activation="relu"):
    """Flatten -> (Dense -> activation -> dropout) per hidden layer -> float32 logits.

    The classifier of LeNet (C5, F6), AlexNet and VGG (4096, 4096). torchvision's AlexNet drops
    out the inputs of its hidden layers instead of their outputs; the parameters are the same.
    """
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"fc{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)


def overlapping_pool(x, inputs, *, small_input: bool, name: str):
    """AlexNet's and NiN's 3x3/2 max-pool -> the stage's feature map; "valid" as published,
    "same" in the small-input form (32 px -> 16 -> 8 -> 4)."""
    padding = "same" if small_input else "valid"
    return mark_feature(keras.layers.MaxPooling2D(3, 2, padding=padding, name=name)(x), inputs)


@register_model("lenet5", tags=("vision", "classifier", "lenet"), **CLASSIFIER,
                small={"num_classes": 5, "input_shape": (28, 28, 1), "small_input": True},
                params=61_706, params_source="LeCun et al. 1998 LeNet-5 with full C3 "
                "connectivity: 156+2,416+48,120+10,164+850")
class LeNet5(ConvNet):
    """LeNet-5 (LeCun et al. 1998, Fig. 2): C1 6@5x5 -> S2 avg-pool -> C3 16@5x5 -> S4 ->
    C5 120 -> F6 84 -> logits, tanh activations (``activation="sigmoid"`` for d2l's form).

    C3 connects to all six S2 maps (the paper's partial table is not used) and S2/S4 are plain
    average pools without the paper's trainable coefficients: 61,706 parameters. C5 is a Dense
    on the flattened S4 maps (a 5x5 conv over a 5x5 map is the same layer). ``small_input``
    pads C1 "same", as d2l does for 28x28 MNIST images; the parameter count does not change.
    """

    @staticmethod
    def build_graph(num_classes=10, input_shape=(32, 32, 1), small_input=False, width=1.0,
                    dropout=0.0, activation="tanh"):
        inputs = image_input(input_shape)
        channels = functools.partial(scaled_channels, width=width)
        x = keras.layers.Conv2D(channels(6), 5, padding="same" if small_input else "valid",
                                activation=activation, name="c1")(inputs)
        x = mark_feature(keras.layers.AveragePooling2D(2, name="s2")(x), inputs)
        x = keras.layers.Conv2D(channels(16), 5, activation=activation, name="c3")(x)
        x = mark_feature(keras.layers.AveragePooling2D(2, name="s4")(x), inputs)
        outputs = fc_head(x, (channels(120), channels(84)), num_classes, dropout, activation)
        return inputs, outputs


@register_model("alexnet", tags=("vision", "classifier", "alexnet"), **CLASSIFIER, small=TINY,
                params=61_100_840,
                params_source="torchvision.models.alexnet (num_params in its weights meta)")
class AlexNet(ConvNet):
    """AlexNet (Krizhevsky et al. 2012, Fig. 2) as torchvision builds it: one tower of
    64-192-384-256-256 convs (11x11/4, 5x5, 3x3 x3), no LRN, 3x3/2 overlapping max-pools, then
    dropout + 4096-4096 fully connected layers on the 6x6x256 map of a 224 px image.

    ``small_input``: 3x3 stride-1 first conv, "same" pools (32 px -> 4x4) and a global-average
    head instead of the fully connected layers.
    """

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.5, fc_units=4096):
        inputs = image_input(input_shape)
        channels = functools.partial(scaled_channels, width=width)
        if small_input:
            x = conv_relu(inputs, channels(64), 3, name="conv1")
        else:  # torchvision pads 2 on each side: 224 -> 55
            x = keras.layers.ZeroPadding2D(2, name="conv1_pad")(inputs)
            x = conv_relu(x, channels(64), 11, 4, padding="valid", name="conv1")
        pool = functools.partial(overlapping_pool, inputs=inputs, small_input=small_input)
        x = pool(x, name="pool1")
        x = conv_relu(x, channels(192), 5, name="conv2")
        x = pool(x, name="pool2")
        for i, filters in enumerate((384, 256, 256), start=3):
            x = conv_relu(x, channels(filters), 3, name=f"conv{i}")
        x = pool(x, name="pool5")
        if small_input:
            return inputs, classifier_head(x, num_classes, dropout)
        return inputs, fc_head(x, (channels(fc_units),) * 2, num_classes, dropout)


VGG_CHANNELS = (64, 128, 256, 512, 512)
VGG_CONVS_PER_STAGE = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3),
                       19: (2, 2, 4, 4, 4)}  # configurations A, B, D, E of Simonyan & Zisserman


def vgg_stage(x, filters: int, convs: int, *, batch_norm: bool, name: str):
    """``convs`` 3x3 convs (with bias, as torchvision keeps it even before BN) -> ReLU."""
    for i in range(1, convs + 1):
        x = conv_relu_maybe_bn(x, filters, 3, batch_norm=batch_norm, bn_bias=True,
                               name=f"{name}_conv{i}")
    return x


class VGG(ConvNet):
    """VGG (Simonyan & Zisserman 2015, Table 1, configurations A/B/D/E = depth 11/13/16/19) in
    torchvision's form: five stages of 3x3 convs each closed by a 2x2 max-pool, then
    4096-4096 fully connected layers with dropout on the 7x7x512 map of a 224 px image.
    ``batch_norm=True`` inserts BatchNorm after every conv (torchvision's vgg*_bn).

    ``small_input``: the first stage keeps full resolution (no pool; 32 px -> 2x2 at the end)
    and global average pooling -> dropout -> logits replaces the fully connected layers.
    """

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.5, depth=16, batch_norm=False, fc_units=4096):
        if depth not in VGG_CONVS_PER_STAGE:
            raise ValueError(f"VGG depth must be one of {sorted(VGG_CONVS_PER_STAGE)}, not {depth}")
        inputs = image_input(input_shape)
        x = inputs
        pool_padding = "same" if small_input else "valid"
        for stage, (filters, convs) in enumerate(zip(VGG_CHANNELS, VGG_CONVS_PER_STAGE[depth]), 1):
            name = f"block{stage}"
            x = vgg_stage(x, scaled_channels(filters, width), convs, batch_norm=batch_norm,
                          name=name)
            if not (small_input and stage == 1):
                x = keras.layers.MaxPooling2D(2, padding=pool_padding, name=f"{name}_pool")(x)
            x = mark_feature(x, inputs)
        if small_input:
            return inputs, classifier_head(x, num_classes, dropout)
        return inputs, fc_head(x, (scaled_channels(fc_units, width),) * 2, num_classes, dropout)


VGG_PARAMS = {  # torchvision.models.vgg*: num_params in the weights meta
    (11, False): 132_863_336, (13, False): 133_047_848, (16, False): 138_357_544,
    (19, False): 143_667_240, (11, True): 132_868_840, (13, True): 133_053_736,
    (16, True): 138_365_992, (19, True): 143_678_248,
}
# Up to 16 plain ReLU convs at 8 channels learn slowly, and dropout noise swamps the contract's
# 16-sample check: its small VGGs are twice TINY's width, without dropout.
VGG_SMALL = {**TINY, "width": 1 / 8, "dropout": 0.0}
for (depth, batch_norm), count in VGG_PARAMS.items():  # vgg11 ... vgg19_bn
    name = f"vgg{depth}{'_bn' if batch_norm else ''}"
    register_model(name, defaults={"depth": depth, "batch_norm": batch_norm},
                   tags=("vision", "classifier", "vgg"), **CLASSIFIER, small=VGG_SMALL,
                   heavy=depth > 11 or batch_norm, params=count,
                   params_source=f"torchvision.models.{name} (num_params in its weights meta)")(VGG)
del depth, batch_norm, count, name


def nin_block(x, filters: int, kernel_size: int, strides: int = 1, *, padding="same",
              batch_norm: bool = False, name: str):
    """An mlpconv layer (Lin et al. 2014, Fig. 2): a k x k conv and two 1x1 convs, all ReLU;
    ``batch_norm``: each conv loses its bias and gains a BatchNorm before the ReLU."""
    x = conv_relu_maybe_bn(x, filters, kernel_size, strides, batch_norm=batch_norm,
                           padding=padding, name=f"{name}_conv")
    for i in (1, 2):
        x = conv_relu_maybe_bn(x, filters, 1, batch_norm=batch_norm, name=f"{name}_mlp{i}")
    return x


@register_model("nin", tags=("vision", "classifier", "nin"), **CLASSIFIER,
                small={**TINY, "width": 1 / 8, "dropout": 0.0})  # its ReLU'd head starts slowly
class NiN(ConvNet):
    """Network in Network (Lin et al. 2014) in d2l's ImageNet form (Zhang et al., Dive into Deep
    Learning, Sec. 8.3): mlpconv blocks 96@11x11/4, 256@5x5, 384@3x3, each followed by a 3x3/2
    max-pool, dropout, and a last block with one map per class, globally averaged into logits.

    The class maps pass a ReLU before the average, as in d2l and the paper's Caffe model, so the
    logits are non-negative. No parameter count is published for this form (7,439,608 at 1000
    classes: tests/test_cnn_classic.py checks it by formula). ``small_input``: 3x3 stride-1
    first block and "same" pools (32 px -> 4x4). ``batch_norm=True``: BatchNorm after every
    conv (not in the paper, which predates it; the plain form trains slowly from scratch).
    """

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.5, batch_norm=False):
        inputs = image_input(input_shape)
        channels = functools.partial(scaled_channels, width=width)
        block = functools.partial(nin_block, batch_norm=batch_norm)
        if small_input:
            x = block(inputs, channels(96), 3, name="block1")
        else:
            x = block(inputs, channels(96), 11, 4, padding="valid", name="block1")
        pool = functools.partial(overlapping_pool, inputs=inputs, small_input=small_input)
        x = block(pool(x, name="pool1"), channels(256), 5, name="block2")
        x = block(pool(x, name="pool2"), channels(384), 3, name="block3")
        x = pool(x, name="pool3")
        if dropout:
            x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = block(x, num_classes, 3, name="class_maps")
        return inputs, class_map_logits(x)
