"""Pose networks that predict keypoint heatmaps.

``StackedHourglass`` (Newell et al. 2016, top-down: one person per crop): a stem down to
``stride`` (the paper: 7x7/2 conv, residual, 2x2 pool, residuals: 256 px -> 64), then
``num_stacks`` hourglasses; each predicts K heatmaps (intermediate supervision), and its
features plus a 1x1 re-mapping of its heatmaps feed the next hourglass. The output stacks every
hourglass' heatmaps, ``[B, num_stacks, H/stride, W/stride, K]``: the loss supervises them all,
inference reads the last.

``HourglassPAF`` (bottom-up, after Cao et al. 2017's OpenPose heads on an hourglass trunk): one
trunk, two 1x1 heads — K keypoint heatmaps (every person's joints) and 2L part-affinity-field
channels (x, y of the unit vector along each of L limbs) — concatenated as
``[B, H/stride, W/stride, K + 2L]``; kerasdl.metrics.keypoints groups peaks into people with them.
"""
from __future__ import annotations

import keras

from kerasdl.layers.blocks import conv_bn_act
from kerasdl.layers.hourglass import hourglass_block, residual_unit
from kerasdl.models.base import FunctionalModel, register_model

KEYPOINT_TASK = dict(task="keypoints", deployable=True)


def _stem(inputs, filters: int, stride: int):
    """Conv-BN-ReLU at stride 2, residual units, 2x2 max-pools until ``stride``."""
    if stride not in (1, 2, 4):
        raise ValueError(f"stride must be 1, 2 or 4, got {stride}")
    x = conv_bn_act(inputs, filters // 2, 7 if stride > 1 else 3, strides=min(stride, 2),
                    name="stem")
    x = residual_unit(x, filters, name="stem_res1")
    if stride == 4:
        x = keras.layers.MaxPooling2D(2, name="stem_pool")(x)
    return residual_unit(x, filters, name="stem_res2")


def _heatmap_head(x, channels: int, name: str):
    return keras.layers.Conv2D(channels, 1, dtype="float32", name=name)(x)


@register_model("stacked_hourglass", tags=("vision", "pose", "keypoints"), **KEYPOINT_TASK,
                small={"input_shape": (16, 16, 3), "num_keypoints": 3, "num_stacks": 2,
                       "filters": 8, "depth": 1, "stride": 2})
class StackedHourglass(FunctionalModel):
    """See the module docstring; the paper's model is ``input_shape=(256, 256, 3),
    num_keypoints=16, num_stacks=8, filters=256, depth=4, stride=4``."""

    @staticmethod
    def build_graph(input_shape=(256, 256, 3), num_keypoints=16, num_stacks=8, filters=256,
                    depth=4, stride=4):
        if num_stacks < 1 or num_keypoints < 1:
            raise ValueError(f"need num_stacks >= 1 and num_keypoints >= 1, got {num_stacks}, "
                             f"{num_keypoints}")
        inputs = keras.Input(tuple(input_shape), name="image")
        x = _stem(inputs, filters, stride)
        height, width = x.shape[1:3]
        stacks = []
        for s in range(1, num_stacks + 1):
            y = hourglass_block(x, depth, filters, name=f"hg{s}")
            y = residual_unit(y, filters, name=f"hg{s}_out")
            y = conv_bn_act(y, filters, 1, name=f"hg{s}_features")
            heatmaps = _heatmap_head(y, num_keypoints, f"hg{s}_heatmaps")
            stacks.append(keras.layers.Reshape((1, height, width, num_keypoints),
                                               name=f"hg{s}_stack")(heatmaps))
            if s < num_stacks:  # x + remapped features + remapped heatmaps
                x = keras.layers.Add(name=f"hg{s}_next")([
                    x, keras.layers.Conv2D(filters, 1, name=f"hg{s}_remap_features")(y),
                    keras.layers.Conv2D(filters, 1, name=f"hg{s}_remap_heatmaps")(heatmaps)])
        out = stacks[0] if num_stacks == 1 else \
            keras.layers.Concatenate(axis=1, dtype="float32", name="heatmaps")(stacks)
        return inputs, out


@register_model("hourglass_paf", tags=("vision", "pose", "keypoints"), **KEYPOINT_TASK,
                small={"input_shape": (16, 16, 3), "num_keypoints": 3, "num_limbs": 2,
                       "filters": 8, "depth": 1, "stride": 2})
class HourglassPAF(FunctionalModel):
    """See the module docstring: ``[B, H/stride, W/stride, num_keypoints + 2 * num_limbs]``."""

    @staticmethod
    def build_graph(input_shape=(256, 256, 3), num_keypoints=15, num_limbs=14, filters=128,
                    depth=4, stride=4):
        if num_keypoints < 1 or num_limbs < 1:
            raise ValueError(f"need num_keypoints >= 1 and num_limbs >= 1, got {num_keypoints}, "
                             f"{num_limbs}")
        inputs = keras.Input(tuple(input_shape), name="image")
        x = hourglass_block(_stem(inputs, filters, stride), depth, filters, name="hg")
        x = conv_bn_act(residual_unit(x, filters, name="hg_out"), filters, 1, name="hg_features")
        heatmaps = _heatmap_head(x, num_keypoints, "keypoint_heatmaps")
        fields = _heatmap_head(x, 2 * num_limbs, "part_affinity_fields")
        out = keras.layers.Concatenate(dtype="float32", name="heatmaps_and_fields")(
            [heatmaps, fields])
        return inputs, out
