"""ShuffleNet v2 (Ma et al. 2018, Table 5 and Fig. 3c-d) in torchvision's form.

A unit splits the channels in two, transforms one half (1x1 -> 3x3 depthwise -> 1x1), concatenates
and shuffles the channels (2 groups); a downsampling unit feeds the whole input to both branches
(the left one: 3x3 depthwise stride 2 -> 1x1). ``stage_channels`` picks the published width
(x0.5: 48/96/192, x1.0: 116/232/464); ``width`` further scales every channel count.
``small_input=True`` (28-32 px) drops the stem's stride and its max-pool: total stride 8.
"""
from __future__ import annotations

import keras
from keras import ops

from kerasdl.layers.blocks import conv_bn_act, depthwise_bn_act
from kerasdl.models.base import register_model
from kerasdl.models.vision.convnet import (ConvNet, classifier_head, image_input, mark_feature,
                                           scaled_channels)

TAGS = ("vision", "classifier", "shufflenet")
# The contract's build: thin, shallow (both unit kinds kept), ImageNet strides (XLA on CPU runs
# depthwise convs naively; the small-input form is tested in tests/test_cnn_mobile.py).
SMALL = {"width": 0.125, "input_shape": (32, 32, 3), "num_classes": 5, "small_input": False,
         "stage_repeats": (1, 2, 1)}


@keras.saving.register_keras_serializable(package="kerasdl")
class ChannelSplit(keras.layers.Layer):
    """Split the channels (last axis) into two equal halves (torchvision's ``x.chunk(2, dim=1)``)."""

    def call(self, x):
        return ops.split(x, 2, axis=-1)

    def compute_output_shape(self, input_shape):
        half = (*input_shape[:-1], input_shape[-1] // 2)
        return [half, half]


@keras.saving.register_keras_serializable(package="kerasdl")
class ChannelShuffle(keras.layers.Layer):
    """Interleave the channels of ``groups`` groups (Zhang et al. 2018, Fig. 1): channels
    (g, c/g) -> (c/g, g). A 4-D reshape-transpose-reshape: built-in TFLite ops, XLA-friendly."""

    def __init__(self, groups: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)

    def call(self, x):
        _, height, width, channels = ops.shape(x)
        x = ops.reshape(x, (-1, height * width, self.groups, channels // self.groups))
        x = ops.transpose(x, (0, 1, 3, 2))
        return ops.reshape(x, (-1, height, width, channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


def shuffle_unit(x, filters: int, strides: int, *, name: str):
    """ShuffleNet v2 unit: Fig. 3(c) (stride 1, channel split) or 3(d) (stride 2, both branches
    see the whole input); each branch outputs ``filters / 2`` channels."""
    branch_filters = filters // 2
    if strides == 1:
        shortcut, x = ChannelSplit(name=f"{name}_split")(x)
    else:
        shortcut = depthwise_bn_act(x, 3, strides, name=f"{name}_left_dw", activation=None)
        shortcut = conv_bn_act(shortcut, branch_filters, 1, name=f"{name}_left_pw")
    x = conv_bn_act(x, branch_filters, 1, name=f"{name}_right_pw1")
    x = depthwise_bn_act(x, 3, strides, name=f"{name}_right_dw", activation=None)
    x = conv_bn_act(x, branch_filters, 1, name=f"{name}_right_pw2")
    x = keras.layers.Concatenate(name=f"{name}_concat")([shortcut, x])
    return ChannelShuffle(2, name=f"{name}_shuffle")(x)


@register_model("shufflenet_v2_x1_0", tags=TAGS, task="classification", deployable=True,
                small=SMALL, heavy=True,  # its small build is x0_5's code at other widths
                params=2_278_604,
                params_source="torchvision.models.shufflenet_v2_x1_0 (num_params in its weights meta)")
@register_model("shufflenet_v2_x0_5", defaults={"stage_channels": (48, 96, 192)}, tags=TAGS,
                task="classification", deployable=True, small=SMALL, params=1_366_792,
                params_source="torchvision.models.shufflenet_v2_x0_5 (num_params in its weights meta)")
class ShuffleNetV2(ConvNet):
    """ShuffleNet v2 (Ma et al. 2018, Table 5): 3x3/2 conv + max-pool, three stages of
    ``stage_repeats`` units (the first downsamples), 1x1 conv to ``final_channels``, classifier."""

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.0, stage_channels=(116, 232, 464), stage_repeats=(4, 8, 4),
                    stem_channels=24, final_channels=1024):
        inputs = image_input(input_shape)
        x = conv_bn_act(inputs, scaled_channels(stem_channels, width), 3,
                        1 if small_input else 2, name="stem")
        if not small_input:
            x = keras.layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)
        x = mark_feature(x, inputs)
        for stage, (filters, repeats) in enumerate(zip(stage_channels, stage_repeats)):
            for i in range(repeats):
                x = shuffle_unit(x, scaled_channels(filters, width), 2 if i == 0 else 1,
                                 name=f"stage{stage + 2}_unit{i + 1}")
            if stage < len(stage_channels) - 1:
                x = mark_feature(x, inputs)
        x = conv_bn_act(x, scaled_channels(final_channels, width), 1, name="top")
        x = mark_feature(x, inputs)
        return inputs, classifier_head(x, num_classes, dropout)
