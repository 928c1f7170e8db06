"""Residual networks: ResNet (He et al. 2016), pre-activation ResNet (He et al. ECCV 2016,
"Identity Mappings in Deep Residual Networks"), ResNeXt (Xie et al. 2017), SE-ResNet (Hu et al.
2018) and Wide ResNet (Zagoruyko & Komodakis 2016) — four block functions, one stage builder.

ImageNet forms follow torchvision's ``resnet.py``: bias-free convs each followed by BN, a projection
shortcut (1x1 conv + BN) where the shape changes, and the bottleneck's stride on its 3x3 conv
("ResNet v1.5"). The pre-activation form follows gluon-cv's ResNetV2 as published by pytorchcv
(``preresnet*``): the v1 stem, BN-ReLU before every conv, a bias-free 1x1 projection of the
pre-activated input, and a final BN-ReLU. keras.applications' ResNet50 (stride on the first 1x1,
conv biases) and ResNet50V2 (stride on a stage's last block, conv biases) have the same kernels.
"""
from __future__ import annotations

import keras

from kerasdl.layers.blocks import batch_norm, bn_relu, conv_bn_act, plain_conv, squeeze_excite
from kerasdl.models.base import register_model
from kerasdl.models.vision.convnet import (ConvNet, classifier_head, image_input, mark_feature,
                                           scaled_channels)

EXPANSION = 4  # bottleneck output channels = 4 x its "planes"


def resnet_stem(inputs, filters: int, small_input: bool, *, norm: bool = True):
    """ImageNet: 7x7/2 conv -> 3x3/2 max-pool (output stride 4); small input: one 3x3/1 conv.

    ``norm`` follows the conv by BN-ReLU (ResNet, pre-act ResNet, DenseNet); Wide ResNet's stem is a
    plain conv, its first block supplying the BN-ReLU.
    """
    kernel_size, strides = (3, 1) if small_input else (7, 2)
    if norm:
        x = conv_bn_act(inputs, filters, kernel_size, strides, name="stem")
    else:
        x = plain_conv(inputs, filters, kernel_size, strides, name="stem")
    if not small_input:
        x = keras.layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)
    return x


def _shortcut(x, filters: int, strides: int, *, name: str, source=None, norm: bool = True):
    """Identity, or — when stride or channels change — a strided 1x1 conv (+ BN if ``norm``) of
    ``source`` (default ``x``; pre-activation blocks project their pre-activated input)."""
    if strides == 1 and x.shape[-1] == filters:
        return x
    y = plain_conv(x if source is None else source, filters, 1, strides, name=f"{name}_shortcut")
    return batch_norm(y, f"{name}_shortcut_bn") if norm else y


def _merge(residual, shortcut, *, name: str, se_reduction: int, activation):
    """Optional squeeze-excite on the residual (Hu et al.: before the sum), add, activation."""
    if se_reduction:
        squeeze = max(1, residual.shape[-1] // se_reduction)
        residual = squeeze_excite(residual, squeeze, name=f"{name}_se")
    x = keras.layers.Add(name=f"{name}_add")([shortcut, residual])
    return keras.layers.Activation(activation, name=f"{name}_out")(x) if activation else x


def _last_bn(x, name: str, zero_gamma: bool):
    """The residual branch's last BN; zero gamma starts the block as identity (Goyal et al.)."""
    return batch_norm(x, f"{name}_bn", gamma_initializer="zeros" if zero_gamma else "ones")


def bottleneck_width(planes: int, groups: int = 1, width_per_group: int = 64) -> int:
    """Channels of the bottleneck's 3x3 conv: ``planes`` for ResNet, ``2 x planes`` for ResNeXt
    32x4d (32 groups x 4 x planes/64) and Wide ResNet-50-2 (width_per_group=128), as torchvision."""
    return max(1, int(planes * width_per_group / 64)) * groups


# --------------------------------------------------------------------------- blocks
def basic_block(x, planes: int, strides: int = 1, *, name: str, se_reduction: int = 0,
                zero_init_residual: bool = False):
    """ResNet-18/34 block: 3x3 conv-BN-ReLU -> 3x3 conv-BN, + shortcut, ReLU."""
    shortcut = _shortcut(x, planes, strides, name=name)
    y = conv_bn_act(x, planes, 3, strides, name=f"{name}_1")
    y = _last_bn(plain_conv(y, planes, 3, name=f"{name}_2"), f"{name}_2", zero_init_residual)
    return _merge(y, shortcut, name=name, se_reduction=se_reduction, activation="relu")


def bottleneck_block(x, planes: int, strides: int = 1, *, name: str, groups: int = 1,
                     width_per_group: int = 64, se_reduction: int = 0,
                     zero_init_residual: bool = False):
    """ResNet-50+ / ResNeXt / WRN-50-2 block: 1x1 -> 3x3 (strided, grouped) -> 1x1 to 4 x planes,
    each conv-BN (ReLU but the last), + shortcut, ReLU."""
    inner, out = bottleneck_width(planes, groups, width_per_group), planes * EXPANSION
    shortcut = _shortcut(x, out, strides, name=name)
    y = conv_bn_act(x, inner, 1, name=f"{name}_1")
    y = conv_bn_act(y, inner, 3, strides, groups=groups, name=f"{name}_2")
    y = _last_bn(plain_conv(y, out, 1, name=f"{name}_3"), f"{name}_3", zero_init_residual)
    return _merge(y, shortcut, name=name, se_reduction=se_reduction, activation="relu")


def preact_basic_block(x, planes: int, strides: int = 1, *, name: str, se_reduction: int = 0,
                       dropout: float = 0.0):
    """Pre-activation basic block: BN-ReLU-3x3 conv -> BN-ReLU-[dropout]-3x3 conv, + shortcut.

    ``dropout`` sits between the convs as in Wide ResNet (its dropout runs use 0.3).
    """
    pre = bn_relu(x, f"{name}_preact")
    shortcut = _shortcut(x, planes, strides, name=name, source=pre, norm=False)
    y = bn_relu(plain_conv(pre, planes, 3, strides, name=f"{name}_1"), f"{name}_1")
    if dropout:
        y = keras.layers.Dropout(dropout, name=f"{name}_dropout")(y)
    y = plain_conv(y, planes, 3, name=f"{name}_2")
    return _merge(y, shortcut, name=name, se_reduction=se_reduction, activation=None)


def preact_bottleneck_block(x, planes: int, strides: int = 1, *, name: str, groups: int = 1,
                            width_per_group: int = 64, se_reduction: int = 0):
    """Pre-activation bottleneck: BN-ReLU-1x1 -> BN-ReLU-3x3 (strided) -> BN-ReLU-1x1, +shortcut."""
    inner, out = bottleneck_width(planes, groups, width_per_group), planes * EXPANSION
    pre = bn_relu(x, f"{name}_preact")
    shortcut = _shortcut(x, out, strides, name=name, source=pre, norm=False)
    y = bn_relu(plain_conv(pre, inner, 1, name=f"{name}_1"), f"{name}_1")
    y = bn_relu(plain_conv(y, inner, 3, strides, groups=groups, name=f"{name}_2"), f"{name}_2")
    y = plain_conv(y, out, 1, name=f"{name}_3")
    return _merge(y, shortcut, name=name, se_reduction=se_reduction, activation=None)


def residual_stages(x, inputs, block, stage_blocks, stage_planes, *, final_norm: bool = False,
                    **block_options):
    """Stages of ``block`` (``stage_blocks[i]`` blocks of ``stage_planes[i]``); every stage but the
    first halves the resolution in its first block, and ends in a named feature map.
    ``final_norm`` (pre-activation nets) puts the closing BN-ReLU before the last feature map."""
    for s, (count, planes) in enumerate(zip(stage_blocks, stage_planes), start=1):
        for b in range(1, count + 1):
            strides = 2 if b == 1 and s > 1 else 1
            x = block(x, planes, strides, name=f"stage{s}_block{b}", **block_options)
        if final_norm and s == len(stage_blocks):
            x = bn_relu(x, "post")
        x = mark_feature(x, inputs)
    return x


_BLOCKS = {(False, False): basic_block, (True, False): bottleneck_block,
           (False, True): preact_basic_block, (True, True): preact_bottleneck_block}


# --------------------------------------------------------------------------- registered models
TORCHVISION = "torchvision.models.{} (num_params in its IMAGENET1K_V1 weights' meta)"
PYTORCHCV = "pytorchcv (osmr/imgclsmob pytorch/README.md), ImageNet-1K table: {}"
SERESNET50 = "timm seresnet50 = Cadene pretrainedmodels se_resnet50 (pytorchcv: SE-ResNet-50)"


def _register(name, defaults, params, source, *, family="resnet", heavy=False, small=None):
    """A variant; its contract build has two one-block stages (XLA compiles grow with depth)."""
    return register_model(
        name, tags=("vision", "classifier", family), defaults=defaults, task="classification",
        deployable=True, heavy=heavy, params=params, params_source=source,
        small={"width": 0.125, "blocks": (1, 1), "input_shape": (32, 32, 3), "num_classes": 5,
               "small_input": True, **(small or {})})


R18 = {"blocks": (2, 2, 2, 2), "bottleneck": False}
R34 = {"blocks": (3, 4, 6, 3), "bottleneck": False}
R50 = {"blocks": (3, 4, 6, 3), "bottleneck": True}
R101 = {"blocks": (3, 4, 23, 3), "bottleneck": True}
R152 = {"blocks": (3, 8, 36, 3), "bottleneck": True}
PRE = {"preact": True}


@_register("resnet18", R18, 11_689_512, TORCHVISION.format("resnet18"))
@_register("resnet34", R34, 21_797_672, TORCHVISION.format("resnet34"), heavy=True)
@_register("resnet50", R50, 25_557_032, TORCHVISION.format("resnet50"), heavy=True)
@_register("resnet101", R101, 44_549_160, TORCHVISION.format("resnet101"), heavy=True)
@_register("resnet152", R152, 60_192_808, TORCHVISION.format("resnet152"), heavy=True)
@_register("preact_resnet18", {**R18, **PRE}, 11_687_848, PYTORCHCV.format("PreResNet-18"),
           heavy=True)
@_register("preact_resnet50", {**R50, **PRE}, 25_549_480, PYTORCHCV.format("PreResNet-50"),
           heavy=True)
@_register("preact_resnet101", {**R101, **PRE}, 44_541_608, PYTORCHCV.format("PreResNet-101"),
           heavy=True)
@_register("preact_resnet152", {**R152, **PRE}, 60_185_256, PYTORCHCV.format("PreResNet-152"),
           heavy=True)
@_register("resnext50_32x4d", {**R50, "groups": 32, "width_per_group": 4}, 25_028_904,
           TORCHVISION.format("resnext50_32x4d"), family="resnext", small={"groups": 4})
@_register("wide_resnet50_2", {**R50, "width_per_group": 128}, 68_883_240,
           TORCHVISION.format("wide_resnet50_2"), family="wide_resnet", heavy=True)
@_register("seresnet50", {**R50, "se_reduction": 16}, 28_088_024, SERESNET50, family="seresnet")
class ResNet(ConvNet):
    """ResNet v1.5 / pre-activation ResNet / ResNeXt / SE-ResNet; see the module docstring.

    ``blocks`` per stage (planes 64, 128, 256, 512 x ``width``), ``bottleneck`` blocks (ResNet-50+)
    or basic ones, ``preact`` for the v2 blocks, ``groups`` x ``width_per_group`` for ResNeXt and
    WRN-50-2, ``se_reduction`` > 0 for squeeze-excite (16 in Hu et al.), ``zero_init_residual``
    zeroes each v1 block's last BN gamma. The default build is ResNet-50.
    """

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.0, blocks=(3, 4, 6, 3), bottleneck=True, preact=False, groups=1,
                    width_per_group=64, se_reduction=0, zero_init_residual=False):
        if not bottleneck and (groups != 1 or width_per_group != 64):
            raise ValueError("basic blocks support only groups=1, width_per_group=64 "
                             f"(got {groups}, {width_per_group}); use bottleneck=True")
        if preact and zero_init_residual:
            raise ValueError("zero_init_residual applies to v1 blocks (pre-activation blocks end "
                             "in a conv, not a BN)")
        options = {"se_reduction": se_reduction}
        if bottleneck:
            options.update(groups=groups, width_per_group=width_per_group)
        if not preact:
            options["zero_init_residual"] = zero_init_residual
        inputs = image_input(input_shape)
        x = resnet_stem(inputs, scaled_channels(64, width), small_input)
        planes = [scaled_channels(64 * 2 ** i, width) for i in range(len(blocks))]
        x = residual_stages(x, inputs, _BLOCKS[(bool(bottleneck), bool(preact))], blocks, planes,
                            final_norm=preact, **options)
        return inputs, classifier_head(x, num_classes, dropout)


@register_model("wrn28_10", tags=("vision", "classifier", "wide_resnet"), task="classification",
                deployable=True, params=36_479_194,
                params_source="pytorchcv / osmr/imgclsmob pytorch/README.md, CIFAR-10 table, "
                              "WRN-28-10 Params (Zagoruyko & Komodakis 2016: 36.5M)",
                small={"width": 0.125, "depth": 10, "num_classes": 5})
class WideResNet(ConvNet):
    """Wide ResNet, CIFAR form (Zagoruyko & Komodakis 2016, Table 1, block B(3,3)): a plain 3x3
    stem conv of 16 channels, three stages of (depth - 4) / 6 pre-activation basic blocks of
    16k, 32k, 64k channels (k = ``widen_factor``), final BN-ReLU. ``block_dropout`` is the paper's
    dropout between a block's convs. ``small_input=False`` swaps in the 7x7/2 + max-pool stem.
    """

    @staticmethod
    def build_graph(num_classes=10, input_shape=(32, 32, 3), small_input=True, width=1.0,
                    dropout=0.0, depth=28, widen_factor=10, block_dropout=0.0):
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f"Wide ResNet depth must be 6n + 4 with n >= 1, got {depth}")
        inputs = image_input(input_shape)
        x = resnet_stem(inputs, scaled_channels(16, width), small_input, norm=False)
        planes = [scaled_channels(16 * widen_factor * 2 ** i, width) for i in range(3)]
        x = residual_stages(x, inputs, preact_basic_block, [(depth - 4) // 6] * 3, planes,
                            final_norm=True, dropout=block_dropout)
        return inputs, classifier_head(x, num_classes, dropout)
