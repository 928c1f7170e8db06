"""Encoder-decoder segmenters: U-Net (Ronneberger et al. 2015) and SegNet (Badrinarayanan et al.
2017).

U-Net: ``depth`` levels of double 3x3 conv (BN-ReLU) + 2x2 max-pool; a bottleneck; then per level
a 2x2/2 transposed conv, concatenation with the encoder map of the same size (the skip), double
conv; a 1x1 conv to class logits. Convs are "same"-padded (the paper's unpadded convs need an
overlap-tile crop of each skip) and BatchNorm follows each conv (not in the 2015 paper).

SegNet: a VGG-like encoder whose 2x2 max-pools keep their argmax indices, and a mirrored decoder
that unpools with those indices (kerasdl.layers.unpooling) followed by convs — no skip features
are copied, only the indices.
"""
from __future__ import annotations

import keras

from kerasdl.layers.unpooling import MaxPoolingWithIndices, MaxUnpooling
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.segmentation.common import SMALL_INPUT, TAGS, TASK, conv_block, logits_head
from kerasdl.models.vision.convnet import image_input


def _check_divisible(input_shape, levels, name):
    if any(side % 2 ** levels for side in input_shape[:2]):
        raise ValueError(f"{name}: input height and width must be divisible by 2^{levels} = "
                         f"{2 ** levels}, got {tuple(input_shape[:2])}")


@register_model("unet", tags=(*TAGS, "unet"), **TASK,
                small={"num_classes": 3, "input_shape": SMALL_INPUT, "filters": 8, "depth": 2})
class UNet(FunctionalModel):
    """U-Net with ``depth`` down/up levels and ``filters`` channels at full resolution (doubling
    per level; the paper: 64 and 4)."""

    @staticmethod
    def build_graph(num_classes=2, input_shape=(572, 572, 1), filters=64, depth=4, dropout=0.0):
        _check_divisible(input_shape, depth, "U-Net")
        inputs = image_input(input_shape)
        x, skips = inputs, []
        for level in range(depth):
            x = conv_block(x, filters * 2 ** level, name=f"down{level}")
            skips.append(x)
            x = keras.layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
        x = conv_block(x, filters * 2 ** depth, name="bottleneck")
        if dropout:
            x = keras.layers.Dropout(dropout, name="bottleneck_dropout")(x)
        for level in reversed(range(depth)):
            x = keras.layers.Conv2DTranspose(filters * 2 ** level, 2, 2, name=f"up{level}_upconv")(x)
            x = keras.layers.Concatenate(name=f"up{level}_concat")([skips[level], x])
            x = conv_block(x, filters * 2 ** level, name=f"up{level}")
        return inputs, logits_head(x, num_classes)


SEGNET_CONVS = (2, 2, 3, 3, 3)  # VGG-16's convs per stage (the paper's encoder)


@register_model("segnet", tags=(*TAGS, "segnet"), **TASK,
                small={"num_classes": 3, "input_shape": SMALL_INPUT, "filters": 8,
                       "stage_convs": (1, 1)})
class SegNet(FunctionalModel):
    """SegNet: stages of ``stage_convs[i]`` convs at ``filters · 2^i`` channels (capped at 8x),
    each closed by an index-keeping 2x2 max-pool; the decoder mirrors it with index unpooling."""

    @staticmethod
    def build_graph(num_classes=12, input_shape=(360, 480, 3), filters=64, stage_convs=SEGNET_CONVS):
        _check_divisible(input_shape, len(stage_convs), "SegNet")
        widths = [filters * min(2 ** i, 8) for i in range(len(stage_convs))]
        inputs = image_input(input_shape)
        x, indices = inputs, []
        for i, (width, convs) in enumerate(zip(widths, stage_convs)):
            x = conv_block(x, width, convs, name=f"encoder{i}")
            x, index = MaxPoolingWithIndices(name=f"encoder{i}_pool")(x)
            indices.append(index)
        for i in reversed(range(len(stage_convs))):
            x = MaxUnpooling(name=f"decoder{i}_unpool")([x, indices[i]])
            out = widths[i - 1] if i else widths[0]
            x = conv_block(x, widths[i], stage_convs[i] - 1, name=f"decoder{i}") if stage_convs[i] > 1 else x
            x = conv_block(x, out, 1, name=f"decoder{i}_out")
        return inputs, logits_head(x, num_classes)
