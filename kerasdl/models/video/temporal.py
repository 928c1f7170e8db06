"""Per-frame 2-D features, then a temporal model over them.

- ``lrcn`` (Donahue et al. 2015): CNN per frame -> LSTM -> the last state classifies.
- ``tsn`` (Wang et al. 2016): ``segments`` snippets of ``snippet`` consecutive frames (stacked on
  channels, like TSN's stacked-difference/flow inputs), sparse-sampled (random in training,
  centred at inference); a shared 2-D network scores each; the consensus is the average.
- ``trn`` (Zhou et al. 2018): multi-scale temporal relations — for each scale d = 2..``scales``,
  an MLP g_d over the concatenated features of ordered d-frame tuples (up to ``max_tuples``,
  fixed at build time), averaged over tuples, then h_d to logits; the scales' logits are summed.
- ``nextvlad`` (Lin et al. 2018): NeXtVLAD pooling of the frame features -> dense -> logits.
"""
from __future__ import annotations

import itertools

import keras
import numpy as np

from kerasdl.layers.video import FrameGather, NeXtVLAD, SegmentSampler
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.video.common import (SMALL, TAGS, classifier_head, clip_input, frame_features,
                                         image_tower)

L = keras.layers


@register_model("lrcn", tags=TAGS, task="classification", small={**SMALL, "units": 8},
                deployable=True)
class LRCN(FunctionalModel):
    """TimeDistributed 2-D CNN -> LSTM (unrolled: TFLite built-ins) -> logits."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), units=64,
                    dropout=0.2):
        clip = clip_input(input_shape)
        x = frame_features(clip, filters)
        x = L.LSTM(units, unroll=True, name="lstm")(x)
        return clip, classifier_head(x, num_classes, dropout)


@register_model("tsn", tags=TAGS, task="classification",
                small={**SMALL, "segments": 2, "snippet": 2}, deployable=True)
class TSN(FunctionalModel):
    """Segment sampling -> shared 2-D network per snippet -> average consensus of logits."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), segments=3,
                    snippet=2, dropout=0.2, seed=None):
        clip = clip_input(input_shape)
        t, h, w, c = clip.shape[1:]
        x = SegmentSampler(segments, snippet, seed=seed, name="segments")(clip)  # [B, K, L, H, W, C]
        x = L.Reshape((segments, h, w, snippet * c), name="snippet_stack")(
            L.Permute((1, 3, 4, 2, 5), name="snippet_permute")(x))
        tower = keras.Sequential([image_tower((h, w, snippet * c), filters, name="tower"),
                                  *([L.Dropout(dropout, name="dropout")] if dropout else []),
                                  L.Dense(num_classes, name="scores")], name="snippet_net")
        scores = L.TimeDistributed(tower, name="segment_scores")(x)
        return clip, L.GlobalAveragePooling1D(dtype="float32", name="consensus")(scores)


def relation_tuples(frames: int, scale: int, max_tuples: int) -> np.ndarray:
    """Up to ``max_tuples`` ordered ``scale``-frame tuples, evenly spaced in lexicographic order."""
    every = np.array(list(itertools.combinations(range(frames), scale)))
    keep = np.unique(np.linspace(0, len(every) - 1, min(max_tuples, len(every))).round().astype(int))
    return every[keep]


@register_model("trn", tags=TAGS, task="classification",
                small={**SMALL, "relation_units": 8, "scales": 3, "max_tuples": 3}, deployable=True)
class TRN(FunctionalModel):
    """Frame features -> sum over scales d of h_d(mean over d-frame tuples of g_d(tuple))."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128),
                    relation_units=64, scales=4, max_tuples=3, dropout=0.2):
        clip = clip_input(input_shape)
        frames = clip.shape[1]
        if not 2 <= scales <= frames:
            raise ValueError(f"scales must be in [2, frames={frames}], got {scales}")
        features = frame_features(clip, filters)
        dim, per_scale = features.shape[-1], []
        for d in range(2, scales + 1):
            tuples = relation_tuples(frames, d, max_tuples)
            x = FrameGather(tuples.ravel(), name=f"tuples{d}")(features)
            x = L.Reshape((len(tuples), d * dim), name=f"concat{d}")(x)
            x = L.Dense(relation_units, activation="relu", name=f"g{d}")(x)
            x = L.GlobalAveragePooling1D(name=f"mean{d}")(x)
            per_scale.append(classifier_head(x, num_classes, dropout, name=f"h{d}"))
        logits = per_scale[0] if len(per_scale) == 1 else L.Add(dtype="float32", name="logits")(per_scale)
        return clip, logits


@register_model("nextvlad", tags=TAGS, task="classification",
                small={**SMALL, "clusters": 8, "groups": 2, "dense_units": 16}, deployable=True)
class NeXtVLADNet(FunctionalModel):
    """Frame features -> NeXtVLAD -> dense (ReLU) -> logits."""

    @staticmethod
    def build_graph(num_classes=8, input_shape=(8, 32, 32, 1), filters=(32, 64, 128), clusters=8,
                    groups=4, expansion=2, dense_units=128, dropout=0.2):
        clip = clip_input(input_shape)
        x = NeXtVLAD(clusters, groups, expansion, name="nextvlad")(frame_features(clip, filters))
        x = L.Dense(dense_units, activation="relu", name="fc")(L.Dropout(dropout, name="vlad_dropout")(x))
        return clip, classifier_head(x, num_classes)
