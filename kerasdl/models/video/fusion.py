"""Where frames meet (Karpathy et al. 2014) and the two-stream network (Simonyan & Zisserman 2014).

- ``single_stream``: all T frames stacked on channels, one 2-D CNN (fusion at the pixels).
- ``early_fusion``: the first layer is a Conv3D over ``window`` consecutive frames (valid in time);
  a shared 2-D tower then encodes each of the T - window + 1 fused maps, averaged over time.
- ``late_fusion``: one shared 2-D tower on the first and on the last frame; the two feature vectors
  meet only in the classifier (Karpathy's late fusion).
- ``two_stream``: clips carry (frame channels, flow dx, dy) — kerasdl.data.moving_mnist's
  ``moving_mnist_flow``; a spatial stream sees the middle frame, a temporal stream the flow of
  all T frames stacked on channels; their logits are averaged (late fusion of class scores).
"""
from __future__ import annotations

import keras

from kerasdl.layers.video import FrameGather
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.video.common import (SMALL, TAGS, classifier_head, clip_input, frame_features,
                                         image_tower, stack_frames)

L = keras.layers


@register_model("single_stream", tags=TAGS, task="classification", small=SMALL, deployable=True)
class SingleStream(FunctionalModel):
    """Frames stacked on channels [H, W, T·C] -> 2-D CNN -> logits."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), dropout=0.2):
        clip = clip_input(input_shape)
        x = stack_frames(clip, name="frames")
        x = image_tower(x.shape[1:], filters, name="tower")(x)
        return clip, classifier_head(x, num_classes, dropout)


@register_model("early_fusion", tags=TAGS, task="classification",
                small={**SMALL, "window": 2, "filters": (8, 16)},
                deployable=True)
class EarlyFusion(FunctionalModel):
    """Conv3D over ``window`` frames -> shared per-map 2-D tower -> mean over time -> logits."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), window=4,
                    dropout=0.2):
        clip = clip_input(input_shape)
        if not 1 <= window <= clip.shape[1]:
            raise ValueError(f"window must be in [1, frames={clip.shape[1]}], got {window}")
        x = L.Conv3D(filters[0], (window, 3, 3), padding="valid", use_bias=False, name="fuse_conv")(
            L.ZeroPadding3D(((0, 0), (1, 1), (1, 1)), name="fuse_pad")(clip))
        x = L.Activation("relu", name="fuse_act")(L.BatchNormalization(momentum=0.9, name="fuse_bn")(x))
        x = frame_features(x, filters[1:] or filters[:1], name="tower")
        x = L.GlobalAveragePooling1D(name="time_mean")(x)
        return clip, classifier_head(x, num_classes, dropout)


@register_model("late_fusion", tags=TAGS, task="classification", small=SMALL, deployable=True)
class LateFusion(FunctionalModel):
    """Shared 2-D tower on the first and the last frame -> concatenated -> dense -> logits."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), dense_units=64,
                    dropout=0.2):
        clip = clip_input(input_shape)
        t, h, w, c = clip.shape[1:]
        tower = image_tower((h, w, c), filters, name="tower")
        ends = [L.Reshape((h, w, c), name=f"frame{i}")(FrameGather([i], name=f"take{i}")(clip))
                for i in (0, t - 1)]
        x = L.Concatenate(name="fuse")([tower(e) for e in ends])
        x = L.Dense(dense_units, activation="relu", name="fc")(x)
        return clip, classifier_head(x, num_classes, dropout)


@register_model("two_stream", tags=TAGS, task="classification",
                small={**SMALL, "input_shape": (4, 16, 16, 3)}, deployable=True)
class TwoStream(FunctionalModel):
    """Clips [T, H, W, C + 2] (frame channels then flow dx, dy): spatial stream on the middle
    frame, temporal stream on the stacked flow (2T channels); logits averaged."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 3), filters=(32, 64, 128), dropout=0.2):
        clip = clip_input(input_shape, min_channels=3)
        t, h, w, c = clip.shape[1:]
        rgb = FrameGather(list(range(c - 2)), axis=-1, name="rgb")(clip)
        flow = FrameGather([c - 2, c - 1], axis=-1, name="flow")(clip)
        middle = L.Reshape((h, w, c - 2), name="middle_frame")(FrameGather([t // 2], name="middle")(rgb))
        spatial = classifier_head(image_tower((h, w, c - 2), filters, name="spatial")(middle),
                                  num_classes, dropout, name="spatial_logits")
        stacked = stack_frames(flow, name="flow")
        temporal = classifier_head(image_tower(stacked.shape[1:], filters, name="temporal")(stacked),
                                   num_classes, dropout, name="temporal_logits")
        return clip, L.Average(dtype="float32", name="logits")([spatial, temporal])
