"""Spatio-temporal convolution networks over clips [B, T, H, W, C].

- ``c3d`` (Tran et al. 2015): 3x3x3 Conv3D stages, each followed by (1, 2, 2) pooling
  (per-frame max-pool: TFLite has no MaxPool3D built-in), global average over T·H·W.
- ``i3d`` (Carreira & Zisserman 2017): inflated Inception — a 3-D stem and inflated Inception
  modules (1x1x1; 1x1x1 -> 3x3x3; 3x3 pool -> 1x1x1). Its 3-D kernels can be bootstrapped from a
  trained 2-D network with :func:`kerasdl.layers.video.inflate_kernel` (see :func:`inflate_from`).
- ``nonlocal_c3d`` (Wang et al. 2018): ``c3d`` with a non-local block after its first stage.
- ``slowfast`` (Feichtenhofer et al. 2019): a slow pathway (every ``alpha``-th frame, wide, no
  temporal kernels in its first stage) and a fast one (all frames, ``fast_ratio`` of the width,
  temporal kernels), with time-strided Conv3D lateral connections fast -> slow after each stage.
"""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.layers.video import (FrameGather, conv3d_bn_act, inflate_kernel, non_local_block,
                                  spatial_pool)
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.video.common import (SMALL, TAGS, classifier_head, clip_input)

L = keras.layers


def c3d_stages(x, filters, *, name: str = "stage", non_local_after=()):
    for i, width in enumerate(filters):
        x = spatial_pool(conv3d_bn_act(x, width, name=f"{name}{i}"), name=f"{name}{i}_pool")
        if i in non_local_after:
            x = non_local_block(x, name=f"nonlocal{i}")
    return x


@register_model("c3d", tags=TAGS, task="classification", small=SMALL, deployable=True)
class C3D(FunctionalModel):
    """3x3x3 conv stages with spatial pooling -> global average -> logits."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), dropout=0.2):
        clip = clip_input(input_shape)
        x = L.GlobalAveragePooling3D(name="gap")(c3d_stages(clip, filters))
        return clip, classifier_head(x, num_classes, dropout)


@register_model("nonlocal_c3d", tags=TAGS, task="classification", small=SMALL, deployable=True)
class NonLocalC3D(FunctionalModel):
    """``c3d`` with a non-local (space-time self-attention) block after stage ``non_local_stage``."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128),
                    non_local_stage=1, dropout=0.2):
        clip = clip_input(input_shape)
        if not 0 <= non_local_stage < len(filters):
            raise ValueError(f"non_local_stage must index filters {filters}, got {non_local_stage}")
        x = c3d_stages(clip, filters, non_local_after=(non_local_stage,))
        return clip, classifier_head(L.GlobalAveragePooling3D(name="gap")(x), num_classes, dropout)


def inception3d(x, width: int, *, name: str):
    """An inflated Inception module: 1x1x1 | 1x1x1 -> 3x3x3 | 3x3 pool -> 1x1x1, concatenated."""
    a = conv3d_bn_act(x, width, 1, name=f"{name}_1x1")
    b = conv3d_bn_act(conv3d_bn_act(x, width // 2 or 1, 1, name=f"{name}_3x3_reduce"), width, 3,
                      name=f"{name}_3x3")
    c = L.TimeDistributed(L.MaxPooling2D(3, 1, "same"), name=f"{name}_branch_pool")(x)
    c = conv3d_bn_act(c, width // 2 or 1, 1, name=f"{name}_pool_proj")
    return L.Concatenate(name=f"{name}_concat")([a, b, c])


@register_model("i3d", tags=TAGS, task="classification", small=SMALL, deployable=True)
class I3D(FunctionalModel):
    """3x3x3 stem -> per stage an inflated Inception module + spatial pooling -> logits."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), dropout=0.2):
        clip = clip_input(input_shape)
        x = spatial_pool(conv3d_bn_act(clip, filters[0], 3, name="stem"), name="stem_pool")
        for i, width in enumerate(filters[1:] or filters[:1]):
            x = spatial_pool(inception3d(x, width, name=f"mixed{i}"), name=f"mixed{i}_pool")
        return clip, classifier_head(L.GlobalAveragePooling3D(name="gap")(x), num_classes, dropout)


def inflate_from(model_3d, model_2d) -> list[str]:
    """Copy every Conv2D kernel of ``model_2d`` into the same-named Conv3D of ``model_3d``,
    inflated over its temporal kernel size (I3D's ImageNet bootstrapping); BN and dense layers of
    equal shape are copied as they are. Returns the names of the layers that received weights."""
    sources = {layer.name: layer for layer in model_2d._flatten_layers() if layer.weights}
    done = []
    for layer in model_3d._flatten_layers():
        source = sources.get(layer.name)
        if source is None or not layer.weights or layer is model_3d:
            continue
        if isinstance(layer, L.Conv3D) and isinstance(source, L.Conv2D):
            weights = source.get_weights()
            layer.set_weights([inflate_kernel(weights[0], layer.kernel_size[0]), *weights[1:]])
        elif [w.shape for w in layer.weights] == [w.shape for w in source.weights]:
            layer.set_weights(source.get_weights())
        else:
            continue
        done.append(layer.name)
    return done


@register_model("slowfast", tags=TAGS, task="classification",
                small={**SMALL, "filters": (8, 8), "alpha": 2}, deployable=True)
class SlowFast(FunctionalModel):
    """Slow (every ``alpha``-th frame) and fast (all frames, ``fast_ratio`` of the width) Conv3D
    pathways, lateral time-strided convs fast -> slow after each stage, both pooled and joined."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), alpha=4,
                    fast_ratio=0.25, dropout=0.2):
        clip = clip_input(input_shape)
        frames = clip.shape[1]
        if frames % alpha:
            raise ValueError(f"frames ({frames}) must be a multiple of alpha ({alpha})")
        slow = FrameGather(np.arange(0, frames, alpha), name="slow_frames")(clip)
        fast = clip
        for i, width in enumerate(filters):
            fast_width = max(int(width * fast_ratio), 1)
            slow = conv3d_bn_act(slow, width, (1 if i == 0 else 3, 3, 3), name=f"slow{i}")
            fast = conv3d_bn_act(fast, fast_width, 3, name=f"fast{i}")
            slow, fast = (spatial_pool(s, name=f"{p}{i}_pool") for s, p in ((slow, "slow"), (fast, "fast")))
            lateral = L.Conv3D(2 * fast_width, (5, 1, 1), (alpha, 1, 1), padding="same",
                               name=f"lateral{i}")(fast)
            slow = L.Concatenate(name=f"fuse{i}")([slow, lateral])
        x = L.Concatenate(name="join")([L.GlobalAveragePooling3D(name="slow_gap")(slow),
                                        L.GlobalAveragePooling3D(name="fast_gap")(fast)])
        return clip, classifier_head(x, num_classes, dropout)
