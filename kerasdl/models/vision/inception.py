"""The Inception line: GoogLeNet (Inception-v1), Inception-v3 and Xception, with their blocks.

Blocks are functions: ``inception_naive_block`` and ``inception_v1_block`` (Szegedy et al. 2014,
Fig. 2a/2b), the Inception-v3 blocks (Szegedy et al. 2016: ``inception_v3_a`` Fig. 5,
``inception_v3_b`` Fig. 6 with 1x7/7x1 factorisation, ``inception_v3_c`` Fig. 7, and the grid
reductions ``inception_v3_reduction_a/_b`` after Fig. 10) and ``xception_block`` (Chollet 2017,
Fig. 5). Every conv of GoogLeNet and Inception-v3 is torchvision's ``BasicConv2d``: bias-free
conv -> BatchNorm -> ReLU (``conv_bn_act``), so the parameter counts are torchvision's.
"""
from __future__ import annotations

import functools

import keras

from kerasdl.layers.blocks import batch_norm, conv_bn_act, max_pool_ceil
from kerasdl.models.base import register_model
from kerasdl.models.vision.convnet import (CLASSIFIER, TINY, ConvNet, classifier_head,
                                           image_input, mark_feature, scaled_channels)

INCEPTION_V3_RECIPE = {"label_smoothing": 0.1}  # Szegedy et al. 2016, Sec. 7 (LSR)


def conv_branch(x, *convs, name: str):
    """A chain of ``conv_bn_act``; each conv is ``(filters, kernel[, strides[, padding]])``."""
    for i, conv in enumerate(convs, start=1):
        padding = conv[3] if len(conv) > 3 else "same"
        x = conv_bn_act(x, *conv[:3], padding=padding, name=f"{name}{i}")
    return x


def concat(branches, name: str):
    return keras.layers.Concatenate(name=f"{name}_concat")(branches)


def pool_branch(x, filters: int, *, name: str, pooling="max"):
    """3x3 stride-1 pooling -> 1x1 projection (the fourth branch of every Inception block)."""
    pool = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
    x = pool(3, 1, padding="same", name=f"{name}_pool")(x)
    return conv_bn_act(x, filters, 1, name=f"{name}_proj")


def inception_naive_block(x, c1: int, c3: int, c5: int, *, name: str):
    """Fig. 2a: 1x1, 3x3 and 5x5 convs and a 3x3 max-pool side by side, concatenated
    (``c1 + c3 + c5 + input`` channels: the pool keeps its input's width, hence the 1x1
    reductions of ``inception_v1_block``)."""
    pooled = keras.layers.MaxPooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    return concat([conv_bn_act(x, c1, 1, name=f"{name}_1x1"),
                   conv_bn_act(x, c3, 3, name=f"{name}_3x3"),
                   conv_bn_act(x, c5, 5, name=f"{name}_5x5"), pooled], name)


def inception_v1_block(x, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int,
                       pool_proj: int, *, name: str, wide_kernel: int = 5):
    """Fig. 2b: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max-pool -> 1x1 (Table 1's six columns).
    torchvision's GoogLeNet uses a 3x3 in the "5x5" branch (``wide_kernel=3``)."""
    return concat([conv_bn_act(x, c1, 1, name=f"{name}_1x1"),
                   conv_branch(x, (c3_reduce, 1), (c3, 3), name=f"{name}_3x3_"),
                   conv_branch(x, (c5_reduce, 1), (c5, wide_kernel), name=f"{name}_5x5_"),
                   pool_branch(x, pool_proj, name=f"{name}_pool")], name)


def googlenet_aux_head(x, num_classes: int, *, width: float, name: str):
    """Auxiliary classifier (Sec. 5): 5x5/3 avg-pool -> 1x1 conv 128 -> FC 1024 -> dropout 0.7
    -> float32 logits. At 224 px the pool gives torchvision's 4x4 (its fc1 takes 2,048)."""
    x = keras.layers.AveragePooling2D(min(5, x.shape[1]), 3, name=f"{name}_pool")(x)
    x = conv_bn_act(x, scaled_channels(128, width), 1, name=f"{name}_conv")
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(scaled_channels(1024, width), activation="relu", name=f"{name}_fc")(x)
    x = keras.layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name=f"{name}_logits")(x)


GOOGLENET_STAGES = (  # Table 1: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj)
    {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64)},
    {"4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
     "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
     "4e": (256, 160, 320, 32, 128, 128)},
    {"5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128)},
)


@register_model("googlenet", tags=("vision", "classifier", "inception"), **CLASSIFIER, small=TINY,
                heavy=True, params=6_624_904,
                params_source="torchvision.models.googlenet (num_params in its weights meta; "
                "no auxiliary heads — with them 13,004,888)")
class GoogLeNet(ConvNet):
    """GoogLeNet / Inception-v1 (Szegedy et al. 2014, Table 1) in torchvision's form: BN after
    every conv, ceil-mode max-pools, 3x3 convs in the "5x5" branches (``wide_kernel=5`` gives the
    paper's), dropout 0.4 (the paper's) before the logits. ``aux_logits=True`` adds the two
    auxiliary classifiers after 4a and 4d: outputs ``[logits, aux1_logits, aux2_logits]``.

    ``small_input``: a 3x3 stride-1 first conv and no first max-pool (32 px -> 4x4).
    """

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.4, aux_logits=False, wide_kernel=3):
        inputs = image_input(input_shape)
        channels = functools.partial(scaled_channels, width=width)
        if small_input:
            x = conv_bn_act(inputs, channels(64), 3, name="conv1")
        else:  # torchvision pads 3 on each side
            x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
            x = conv_bn_act(x, channels(64), 7, 2, padding="valid", name="conv1")
            x = max_pool_ceil(x, name="pool1")
        x = conv_bn_act(x, channels(64), 1, name="conv2")
        x = conv_bn_act(x, channels(192), 3, name="conv3")
        x = mark_feature(x, inputs)
        aux_outputs = []
        for stage, blocks in enumerate(GOOGLENET_STAGES, start=2):
            x = max_pool_ceil(x, 2 if stage == 4 else 3, 2, name=f"pool{stage}")
            for block, block_channels in blocks.items():
                x = inception_v1_block(x, *map(channels, block_channels),
                                       name=f"inception{block}", wide_kernel=wide_kernel)
                if aux_logits and block in ("4a", "4d"):
                    aux_outputs.append(googlenet_aux_head(
                        x, num_classes, width=width, name=f"aux{len(aux_outputs) + 1}"))
            x = mark_feature(x, inputs)
        outputs = classifier_head(x, num_classes, dropout)
        return inputs, [outputs, *aux_outputs] if aux_logits else outputs


def inception_v3_a(x, pool_features: int, *, width: float, name: str):
    """Fig. 5 (35x35 grid; torchvision InceptionA): 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 |
    avg-pool -> 1x1."""
    c = functools.partial(scaled_channels, width=width)
    return concat([conv_bn_act(x, c(64), 1, name=f"{name}_1x1"),
                   conv_branch(x, (c(48), 1), (c(64), 5), name=f"{name}_5x5_"),
                   conv_branch(x, (c(64), 1), (c(96), 3), (c(96), 3), name=f"{name}_3x3dbl_"),
                   pool_branch(x, c(pool_features), name=f"{name}_pool", pooling="avg")], name)


def inception_v3_reduction_a(x, *, width: float, name: str):
    """35 -> 17 grid reduction (Fig. 10's scheme; torchvision InceptionB): 3x3/2 | 1x1 -> 3x3
    -> 3x3/2 | 3x3/2 max-pool."""
    c = functools.partial(scaled_channels, width=width)
    pooled = keras.layers.MaxPooling2D(3, 2, name=f"{name}_pool")(x)
    return concat([conv_bn_act(x, c(384), 3, 2, padding="valid", name=f"{name}_3x3"),
                   conv_branch(x, (c(64), 1), (c(96), 3), (c(96), 3, 2, "valid"),
                               name=f"{name}_3x3dbl_"), pooled], name)


def inception_v3_b(x, channels_7x7: int, *, width: float, name: str):
    """Fig. 6 (17x17 grid, n = 7; torchvision InceptionC): 1x1 | 1x1 -> 1x7 -> 7x1 |
    1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 | avg-pool -> 1x1."""
    c = functools.partial(scaled_channels, width=width)
    c7 = c(channels_7x7)
    return concat([conv_bn_act(x, c(192), 1, name=f"{name}_1x1"),
                   conv_branch(x, (c7, 1), (c7, (1, 7)), (c(192), (7, 1)), name=f"{name}_7x7_"),
                   conv_branch(x, (c7, 1), (c7, (7, 1)), (c7, (1, 7)), (c7, (7, 1)),
                               (c(192), (1, 7)), name=f"{name}_7x7dbl_"),
                   pool_branch(x, c(192), name=f"{name}_pool", pooling="avg")], name)


def inception_v3_reduction_b(x, *, width: float, name: str):
    """17 -> 8 grid reduction (torchvision InceptionD): 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 ->
    3x3/2 | 3x3/2 max-pool."""
    c = functools.partial(scaled_channels, width=width)
    pooled = keras.layers.MaxPooling2D(3, 2, name=f"{name}_pool")(x)
    return concat([conv_branch(x, (c(192), 1), (c(320), 3, 2, "valid"), name=f"{name}_3x3_"),
                   conv_branch(x, (c(192), 1), (c(192), (1, 7)), (c(192), (7, 1)),
                               (c(192), 3, 2, "valid"), name=f"{name}_7x7x3_"), pooled], name)


def split_1x3_3x1(x, filters: int, *, name: str):
    """Fig. 7's expanded filter bank: a 1x3 and a 3x1 conv side by side, concatenated."""
    return concat([conv_bn_act(x, filters, (1, 3), name=f"{name}_1x3"),
                   conv_bn_act(x, filters, (3, 1), name=f"{name}_3x1")], name)


def inception_v3_c(x, *, width: float, name: str):
    """Fig. 7 (8x8 grid; torchvision InceptionE): 1x1 | 1x1 -> (1x3 ‖ 3x1) |
    1x1 -> 3x3 -> (1x3 ‖ 3x1) | avg-pool -> 1x1."""
    c = functools.partial(scaled_channels, width=width)
    wide = conv_bn_act(x, c(384), 1, name=f"{name}_3x3_1")
    deep = conv_branch(x, (c(448), 1), (c(384), 3), name=f"{name}_3x3dbl_")
    return concat([conv_bn_act(x, c(320), 1, name=f"{name}_1x1"),
                   split_1x3_3x1(wide, c(384), name=f"{name}_3x3_2"),
                   split_1x3_3x1(deep, c(384), name=f"{name}_3x3dbl_3"),
                   pool_branch(x, c(192), name=f"{name}_pool", pooling="avg")], name)


def inception_v3_aux_head(x, num_classes: int, *, width: float, name: str = "aux"):
    """torchvision's InceptionAux: 5x5/3 avg-pool -> 1x1 conv 128 -> 5x5 conv 768 -> global
    average -> float32 logits (the 5x5 conv pads "same" only on maps under 5x5)."""
    x = keras.layers.AveragePooling2D(min(5, x.shape[1]), 3, name=f"{name}_pool")(x)
    x = conv_bn_act(x, scaled_channels(128, width), 1, name=f"{name}_conv0")
    x = conv_bn_act(x, scaled_channels(768, width), 5, padding="valid" if x.shape[1] >= 5
                    else "same", name=f"{name}_conv1")
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name=f"{name}_logits")(x)


@register_model("inception_v3", tags=("vision", "classifier", "inception"), **CLASSIFIER,
                small=TINY, heavy=True, recipe=INCEPTION_V3_RECIPE, params=23_834_568,
                params_source="torchvision.models.inception_v3: num_params 27,161,264 in its "
                "weights meta includes the auxiliary head (3,326,696); the default build has none")
class InceptionV3(ConvNet):
    """Inception-v3 (Szegedy et al. 2016, Table 1) in torchvision's form: stem of 3x3 convs,
    3 x Fig. 5 blocks (35x35), reduction, 4 x Fig. 6 blocks (17x17, 1x7/7x1 factorised),
    reduction, 2 x Fig. 7 blocks (8x8), global average, dropout 0.5, logits. Trained with label
    smoothing 0.1 (Sec. 7): the registry's ``recipe`` info carries it. ``aux_logits=True`` adds
    the auxiliary classifier on the 17x17 grid: outputs ``[logits, aux_logits]``.

    keras.applications.InceptionV3 has the same convs but BatchNorm without scale (gamma), so
    it has 17,216 fewer trainable parameters. ``small_input``: stride-1 "same" stem convs and
    no stem max-pools (32 px -> 7x7 at the end).
    """

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(299, 299, 3), small_input=False, width=1.0,
                    dropout=0.5, aux_logits=False):
        inputs = image_input(input_shape)
        c = functools.partial(scaled_channels, width=width)
        stride, padding = (1, "same") if small_input else (2, "valid")
        x = conv_branch(inputs, (c(32), 3, stride, padding), (c(32), 3, 1, padding), (c(64), 3),
                        name="stem_a")
        if not small_input:
            x = mark_feature(keras.layers.MaxPooling2D(3, 2, name="stem_pool1")(x), inputs)
        x = conv_branch(x, (c(80), 1), (c(192), 3, 1, padding), name="stem_b")
        if not small_input:
            x = keras.layers.MaxPooling2D(3, 2, name="stem_pool2")(x)
        for block, pool_features in (("5b", 32), ("5c", 64), ("5d", 64)):
            x = inception_v3_a(x, pool_features, width=width, name=f"mixed{block}")
        x = mark_feature(x, inputs)
        x = inception_v3_reduction_a(x, width=width, name="mixed6a")
        for block, channels_7x7 in (("6b", 128), ("6c", 160), ("6d", 160), ("6e", 192)):
            x = inception_v3_b(x, channels_7x7, width=width, name=f"mixed{block}")
        x = mark_feature(x, inputs)
        aux = inception_v3_aux_head(x, num_classes, width=width) if aux_logits else None
        x = inception_v3_reduction_b(x, width=width, name="mixed7a")
        for block in ("7b", "7c"):
            x = inception_v3_c(x, width=width, name=f"mixed{block}")
        x = mark_feature(x, inputs)
        outputs = classifier_head(x, num_classes, dropout)
        return inputs, [outputs, aux] if aux_logits else outputs


def separable_conv_bn(x, filters: int, *, name: str):
    """Xception's SeparableConv2D as its two layers (3x3 depthwise, 1x1 pointwise; no bias, no
    activation between them: Chollet 2017, Sec. 3) -> BatchNorm."""
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dwconv")(x)
    x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pwconv")(x)
    return batch_norm(x, f"{name}_bn")


def xception_block(x, filters, *, name: str, downsample=False, project=False, relu_first=True):
    """Fig. 5's residual module: (ReLU -> separable conv -> BN) per entry of ``filters``, a 3x3/2
    max-pool when ``downsample``, plus the input — through a strided 1x1 conv + BN when
    ``project`` (entry/exit flow), else as is (middle flow)."""
    strides = 2 if downsample else 1
    if project:
        residual = keras.layers.Conv2D(filters[-1], 1, strides, padding="same", use_bias=False,
                                       name=f"{name}_proj_conv")(x)
        residual = batch_norm(residual, f"{name}_proj_bn")
    else:
        residual = x
    for i, block_filters in enumerate(filters, start=1):
        if i > 1 or relu_first:
            x = keras.layers.Activation("relu", name=f"{name}_sepconv{i}_act")(x)
        x = separable_conv_bn(x, block_filters, name=f"{name}_sepconv{i}")
    if downsample:
        x = keras.layers.MaxPooling2D(3, 2, padding="same", name=f"{name}_pool")(x)
    return keras.layers.Add(name=f"{name}_add")([x, residual])


@register_model("xception", tags=("vision", "classifier", "inception", "xception"), **CLASSIFIER,
                small=TINY, heavy=True, params=22_855_952,
                params_source="keras.applications.Xception (trainable params)")
class Xception(ConvNet):
    """Xception (Chollet 2017, Fig. 5) in keras.applications' form: entry flow (two 3x3 convs,
    residual modules of 128, 256, 728 channels), middle flow (8 x three 728-channel separable
    convs), exit flow (728 -> 1024 module, 1536 and 2048 separable convs), global average,
    dropout 0.5 (the paper's; keras.applications has none), logits.

    ``small_input``: stride-1 "same" stem convs and no downsampling in the first module
    (32 px -> 4x4 at the end).
    """

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(299, 299, 3), small_input=False, width=1.0,
                    dropout=0.5, middle_blocks=8):
        inputs = image_input(input_shape)
        c = functools.partial(scaled_channels, width=width)
        stride, padding = (1, "same") if small_input else (2, "valid")
        x = conv_branch(inputs, (c(32), 3, stride, padding), (c(64), 3, 1, padding),
                        name="block1_conv")
        if not small_input:
            x = mark_feature(x, inputs)
        for block, filters in ((2, 128), (3, 256), (4, 728)):
            x = xception_block(x, (c(filters),) * 2, name=f"block{block}", project=True,
                               downsample=not (small_input and block == 2), relu_first=block > 2)
            if block < 4:  # block 4 shares its resolution with the middle flow
                x = mark_feature(x, inputs)
        for block in range(5, 5 + middle_blocks):
            x = xception_block(x, (c(728),) * 3, name=f"block{block}")
        x = mark_feature(x, inputs)
        x = xception_block(x, (c(728), c(1024)), name="exit_block1", project=True,
                           downsample=True)
        for i, filters in enumerate((1536, 2048), start=1):
            x = separable_conv_bn(x, c(filters), name=f"exit_block2_sepconv{i}")
            x = keras.layers.Activation("relu", name=f"exit_block2_sepconv{i}_act")(x)
        x = mark_feature(x, inputs)
        return inputs, classifier_head(x, num_classes, dropout)
