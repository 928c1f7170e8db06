"""MobileNet v1, v2 and v3: depthwise-separable conv nets for mobile inference.

- v1 (Howard et al. 2017, Table 1): a stack of depthwise-separable convs (Fig. 3), in
  keras.applications.MobileNet's form (ReLU6, dropout 1e-3 before the classifier).
- v2 (Sandler et al. 2018, Table 2): inverted residuals with linear bottlenecks, in torchvision's form.
- v3 (Howard et al. 2019, Tables 1-2): v2's block with squeeze-excite (hard-sigmoid gate) and
  h-swish, in torchvision's form (its classifier: Linear -> h-swish -> dropout -> Linear).

``width`` is the width multiplier α (channels rounded to multiples of 8, as in v2/v3); the
resolution multiplier is ``input_shape``. ``small_input=True`` (28-32 px images) makes the stem
stride 1 and the first stride-2 block stride 1 (MobileNetV2's CIFAR practice): total stride 8, so
32x32 and 28x28 inputs end at 4x4. ``stage_repeats`` (default: the published table) keeps the
first blocks of each stage only (a stage: consecutive blocks with the same output channels) — the
shallow build the model contract trains.
"""
from __future__ import annotations

import itertools

import keras

from kerasdl.layers.blocks import conv_bn_act, depthwise_bn_act, squeeze_excite
from kerasdl.models.base import register_model
from kerasdl.models.vision.convnet import (ConvNet, classifier_head, image_input, mark_feature,
                                           scaled_channels)

TAGS = ("vision", "classifier", "mobilenet")
SE_RATIO = 0.25  # v3's squeeze channels: _make_divisible(expanded / 4, 8)

# v1, Table 1 after the stem: (pointwise filters, depthwise stride)
V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *((512, 1),) * 5,
             (1024, 2), (1024, 1))
# v2, Table 2 after the stem: (expansion t, filters c, repeats n, first stride s)
V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1))
# v3, Tables 1 (large) and 2 (small): (kernel, expanded, filters, squeeze-excite, activation,
# stride); the stem has 16 channels, the last 1x1 conv 6x the last block's filters.
RE, HS = "relu", "hard_swish"
V3_BLOCKS = {
    "large": ((3, 16, 16, False, RE, 1), (3, 64, 24, False, RE, 2), (3, 72, 24, False, RE, 1),
              (5, 72, 40, True, RE, 2), (5, 120, 40, True, RE, 1), (5, 120, 40, True, RE, 1),
              (3, 240, 80, False, HS, 2), (3, 200, 80, False, HS, 1), (3, 184, 80, False, HS, 1),
              (3, 184, 80, False, HS, 1), (3, 480, 112, True, HS, 1), (3, 672, 112, True, HS, 1),
              (5, 672, 160, True, HS, 2), (5, 960, 160, True, HS, 1), (5, 960, 160, True, HS, 1)),
    "small": ((3, 16, 16, True, RE, 2), (3, 72, 24, False, RE, 2), (3, 88, 24, False, RE, 1),
              (5, 96, 40, True, HS, 2), (5, 240, 40, True, HS, 1), (5, 240, 40, True, HS, 1),
              (5, 120, 48, True, HS, 1), (5, 144, 48, True, HS, 1), (5, 288, 96, True, HS, 2),
              (5, 576, 96, True, HS, 1), (5, 576, 96, True, HS, 1)),
}
V3_CLASSIFIER_UNITS = {"large": 1280, "small": 1024}


def small_build(*stage_repeats) -> dict:
    """The contract's build: thin (8-40 channels), shallow (every block kind kept), 32x32.

    The ImageNet strides, not ``small_input``: XLA on CPU runs depthwise convs naively, and 20
    steps at the small-input form's 32x32 maps cost ~30 s more on this machine. The small-input
    form is built and trained in tests/test_cnn_mobile.py.
    """
    return {"width": 0.125, "input_shape": (32, 32, 3), "num_classes": 5, "small_input": False,
            "stage_repeats": stage_repeats}


def select_blocks(blocks, stage_repeats, filters_index: int) -> list:
    """The first ``stage_repeats[i]`` blocks of each stage (a run of blocks whose
    ``block[filters_index]`` is equal); ``None`` keeps them all."""
    blocks = list(blocks)
    if stage_repeats is None:
        return blocks
    stages = [list(run) for _, run in itertools.groupby(blocks, key=lambda b: b[filters_index])]
    if len(stage_repeats) != len(stages) or not all(
            1 <= r <= len(stage) for r, stage in zip(stage_repeats, stages)):
        raise ValueError(f"stage_repeats must keep 1..n blocks of each stage, n = "
                         f"{[len(stage) for stage in stages]}; got {stage_repeats}")
    return [block for stage, r in zip(stages, stage_repeats) for block in stage[:r]]


def block_strides(strides, small_input: bool) -> list[int]:
    """A block table's strides; the small-input form runs its first stride-2 block at stride 1."""
    strides = list(strides)
    if small_input:
        strides[strides.index(2)] = 1
    return strides


def mark_before_downsampling(x, inputs, strides: int):
    """End a stage (``mark_feature``) when the next block changes the resolution."""
    return mark_feature(x, inputs) if strides > 1 else x


def stem(inputs, filters: int, small_input: bool, activation: str):
    """3x3 conv, stride 2 (stride 1 in the small-input form)."""
    return conv_bn_act(inputs, filters, 3, 1 if small_input else 2, name="stem",
                       activation=activation)


def depthwise_separable(x, filters: int, strides: int, *, name: str, activation="relu6"):
    """v1's block (Howard et al. 2017, Fig. 3): 3x3 depthwise -> BN -> act -> 1x1 -> BN -> act."""
    x = depthwise_bn_act(x, 3, strides, name=f"{name}_dw", activation=activation)
    return conv_bn_act(x, filters, 1, name=f"{name}_pw", activation=activation)


def inverted_residual(x, filters: int, expanded: int, strides: int, *, name: str, kernel_size=3,
                      activation="relu6", squeeze_channels=None):
    """v2's block (Sandler et al. 2018, Fig. 3b; with ``squeeze_channels``, v3's, Fig. 4):
    1x1 expansion -> BN -> act (skipped when ``expanded`` equals the input channels) ->
    depthwise -> BN -> act -> [squeeze-excite, hard-sigmoid gate] -> linear 1x1 projection -> BN,
    plus the input when the stride is 1 and the channels match."""
    shortcut = x
    if expanded != x.shape[-1]:
        x = conv_bn_act(x, expanded, 1, name=f"{name}_expand", activation=activation)
    x = depthwise_bn_act(x, kernel_size, strides, name=f"{name}_dw", activation=activation)
    if squeeze_channels:
        x = squeeze_excite(x, squeeze_channels, name=f"{name}_se", gate="hard_sigmoid")
    x = conv_bn_act(x, filters, 1, name=f"{name}_project", activation=None)
    if strides == 1 and shortcut.shape[-1] == filters:
        x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return x


@register_model("mobilenet_v1", tags=TAGS, task="classification", deployable=True,
                small=small_build(1, 1, 1, 1, 1),
                params=4_231_976,
                params_source="keras.applications.MobileNet(alpha=1.0, weights=None): "
                              "trainable parameters (Howard et al. 2017, Table 1: 4.2M)")
class MobileNetV1(ConvNet):
    """MobileNet v1 (Howard et al. 2017, Table 1) as keras.applications.MobileNet builds it."""

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=1e-3, stage_repeats=None):
        inputs = image_input(input_shape)
        x = stem(inputs, scaled_channels(32, width), small_input, "relu6")
        filters, strides = zip(*select_blocks(V1_BLOCKS, stage_repeats, 0))
        for i, (f, s) in enumerate(zip(filters, block_strides(strides, small_input))):
            x = mark_before_downsampling(x, inputs, s)
            x = depthwise_separable(x, scaled_channels(f, width), s, name=f"block{i + 1}")
        x = mark_feature(x, inputs)
        return inputs, classifier_head(x, num_classes, dropout)


@register_model("mobilenet_v2", tags=TAGS, task="classification", deployable=True,
                small=small_build(1, 2, 1, 1, 1, 1, 1),
                params=3_504_872,
                params_source="torchvision.models.mobilenet_v2 (num_params in its weights meta); "
                              "keras.applications.MobileNetV2 has the same trainable count")
class MobileNetV2(ConvNet):
    """MobileNet v2 (Sandler et al. 2018, Table 2) in torchvision's form (dropout 0.2)."""

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.2, stage_repeats=None):
        inputs = image_input(input_shape)
        x = stem(inputs, scaled_channels(32, width), small_input, "relu6")
        blocks = [(t, c, s if i == 0 else 1) for t, c, n, s in V2_STAGES for i in range(n)]
        blocks = select_blocks(blocks, stage_repeats, 1)
        strides = block_strides([s for _, _, s in blocks], small_input)
        for i, ((t, c, _), s) in enumerate(zip(blocks, strides)):
            x = mark_before_downsampling(x, inputs, s)
            x = inverted_residual(x, scaled_channels(c, width), t * x.shape[-1], s,
                                  name=f"block{i + 1}")
        # The last conv is not thinned for width < 1 (Sandler et al. 2018, Sec. 6.1).
        x = conv_bn_act(x, scaled_channels(1280, max(1.0, width)), 1, name="top",
                        activation="relu6")
        x = mark_feature(x, inputs)
        return inputs, classifier_head(x, num_classes, dropout)


@register_model("mobilenet_v3_large", defaults={"variant": "large"}, tags=TAGS,
                task="classification", deployable=True, small=small_build(1, 1, 1, 1, 1, 1),
                heavy=True,  # its small build runs v3_small's code paths; keeps the contract short
                params=5_483_032,
                params_source="torchvision.models.mobilenet_v3_large (num_params in its weights "
                              "meta); keras.applications.MobileNetV3Large has the same count")
@register_model("mobilenet_v3_small", defaults={"variant": "small"}, tags=TAGS,
                task="classification", deployable=True, small=small_build(1, 2, 1, 1, 1),
                params=2_542_856,
                params_source="torchvision.models.mobilenet_v3_small (num_params in its weights "
                              "meta); keras.applications.MobileNetV3Small has the same count")
class MobileNetV3(ConvNet):
    """MobileNet v3 large/small (Howard et al. 2019, Tables 1-2) in torchvision's form.

    Head: pool -> 1x1 conv with bias (= torchvision's Linear on the pooled vector, as
    keras.applications builds it) -> h-swish -> dropout -> float32 logits.
    """

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.2, stage_repeats=None, variant="large"):
        if variant not in V3_BLOCKS:
            raise ValueError(f"variant must be one of {sorted(V3_BLOCKS)}, got {variant!r}")
        table = select_blocks(V3_BLOCKS[variant], stage_repeats, 2)
        inputs = image_input(input_shape)
        x = stem(inputs, scaled_channels(16, width), small_input, HS)
        strides = block_strides([row[-1] for row in table], small_input)
        for i, ((kernel, expanded, filters, se, act, _), s) in enumerate(zip(table, strides)):
            x = mark_before_downsampling(x, inputs, s)
            expanded = scaled_channels(expanded, width)
            squeeze = scaled_channels(expanded, SE_RATIO) if se else None
            x = inverted_residual(x, scaled_channels(filters, width), expanded, s,
                                  name=f"block{i + 1}", kernel_size=kernel, activation=act,
                                  squeeze_channels=squeeze)
        x = conv_bn_act(x, 6 * x.shape[-1], 1, name="top", activation=HS)
        x = mark_feature(x, inputs)
        x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="head_pool")(x)
        x = keras.layers.Conv2D(scaled_channels(V3_CLASSIFIER_UNITS[variant], width), 1,
                                activation=HS, name="head_conv")(x)
        return inputs, classifier_head(x, num_classes, dropout)
