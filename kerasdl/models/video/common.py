"""Pieces every video classifier shares: the clip input, 2-D towers, stacking frames, the head.

Clips are ``[B, T, H, W, C]`` float32; every model maps them to float32 logits ``[B, classes]``.
"""
from __future__ import annotations

import keras

from kerasdl.layers import ConvBNAct

L = keras.layers

#: The contract's small build of every video model (4 frames of 16x16, two narrow stages).
SMALL = {"num_classes": 4, "input_shape": (4, 16, 16, 1), "filters": (4, 8)}
TAGS = ("video", "classifier")


def clip_input(input_shape, min_channels: int = 1) -> keras.KerasTensor:
    """``keras.Input`` for clips of ``input_shape`` = (T, H, W, C), checked."""
    shape = tuple(input_shape)
    if len(shape) != 4 or any(d is None or d < 1 for d in shape) or shape[-1] < min_channels:
        raise ValueError(f"input_shape must be (frames, height, width, channels>={min_channels}) "
                         f"with fixed sizes, got {input_shape}")
    return keras.Input(shape, name="clip")


def image_tower(input_shape, filters, *, name: str) -> keras.Sequential:
    """A 2-D CNN [H, W, C] -> [D]: per stage ConvBNAct + 2x2 max-pool, then global average
    pooling. One tower object applied several times shares its weights (late fusion, per-frame
    encoders through TimeDistributed)."""
    layers = [keras.Input(tuple(input_shape))]
    for i, width in enumerate(filters):
        layers += [ConvBNAct(width, name=f"conv{i}"), L.MaxPooling2D(name=f"pool{i}")]
    return keras.Sequential([*layers, L.GlobalAveragePooling2D(name="gap")], name=name)


def frame_features(clip, filters, *, name: str = "frame_cnn"):
    """[B, T, H, W, C] -> [B, T, D]: the same 2-D tower on every frame (LRCN, TSN, TRN, NeXtVLAD)."""
    return L.TimeDistributed(image_tower(clip.shape[2:], filters, name=name), name=f"{name}_frames")(clip)


def stack_frames(clip, *, name: str):
    """[B, T, H, W, C] -> [B, H, W, T*C]: frames stacked on channels (frame-major per pixel)."""
    t, h, w, c = clip.shape[1:]
    x = L.Permute((2, 3, 1, 4), name=f"{name}_permute")(clip)
    return L.Reshape((h, w, t * c), name=f"{name}_stack")(x)


def classifier_head(x, num_classes: int, dropout: float = 0.0, *, name: str = "logits"):
    """Dropout (if any) -> Dense float32 logits."""
    if dropout:
        x = L.Dropout(dropout, name=f"{name}_dropout")(x)
    return L.Dense(num_classes, dtype="float32", name=name)(x)
