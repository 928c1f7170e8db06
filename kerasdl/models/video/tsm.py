"""TSM (Lin et al. 2019, "Temporal Shift Module"): a 2-D ResNet applied per frame whose residual
branches start with a temporal shift (:class:`kerasdl.layers.video.TemporalShift`), so frames
exchange information at zero FLOPs and zero parameters; the clip score averages the frames.
"""
from __future__ import annotations

import keras

from kerasdl.layers.blocks import BN_MOMENTUM
from kerasdl.layers.video import TemporalShift
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.video.common import classifier_head, clip_input

L = keras.layers


def _frame_conv(x, filters, strides=1, *, name):
    """A per-frame 3x3 conv (no bias) -> BN over [B, T, H, W, C]."""
    x = L.TimeDistributed(L.Conv2D(filters, 3, strides, "same", use_bias=False), name=f"{name}_conv")(x)
    return L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)


def shift_block(x, filters: int, strides: int = 1, *, fold_div: int, name: str):
    """Residual shift block: shift -> conv-BN-ReLU -> conv-BN, plus the (projected) input."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = L.TimeDistributed(L.Conv2D(filters, 1, strides, use_bias=False),
                                     name=f"{name}_proj")(x)
    y = TemporalShift(fold_div, name=f"{name}_shift")(x)
    y = L.Activation("relu", name=f"{name}_act1")(_frame_conv(y, filters, strides, name=f"{name}_a"))
    y = _frame_conv(y, filters, name=f"{name}_b")
    return L.Activation("relu", name=f"{name}_out")(L.Add(name=f"{name}_add")([shortcut, y]))


@register_model("tsm", tags=("video", "classifier"), task="classification",
                small={"num_classes": 4, "input_shape": (4, 8, 8, 1), "filters": (8,), "fold_div": 4},
                deployable=True)
class TSM(FunctionalModel):
    """Per-frame stem -> residual shift blocks (stride 2 from the second stage) -> mean -> logits."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), fold_div=8,
                    dropout=0.2):
        clip = clip_input(input_shape)
        x = L.Activation("relu", name="stem_act")(_frame_conv(clip, filters[0], name="stem"))
        for i, width in enumerate(filters):
            x = shift_block(x, width, 1 if i == 0 else 2, fold_div=fold_div, name=f"block{i}")
        return clip, classifier_head(L.GlobalAveragePooling3D(name="gap")(x), num_classes, dropout)
