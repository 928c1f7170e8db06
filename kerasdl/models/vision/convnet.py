"""The shape every CNN family shares: image input, stem, stages with named multi-scale features,
classifier head — and a ``backbone()`` view that reuses the weights for detection/segmentation.

A family subclasses ``ConvNet`` and writes ``build_graph`` with at least these keywords:
``num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0, dropout=...``.
``small_input=True`` swaps the ImageNet stem (big strided conv + pool) for a CIFAR-style stem
(3x3, stride 1, no pool) so 28-32 px images keep enough resolution; ``width`` scales every
channel count (``scaled_channels``). Each stage ends in ``x = mark_feature(x, inputs)``, which
names the tensor ``feature_stride{s}`` (s = input side / feature side, as a power of two) without changing it.
The logits layer is a float32 ``Dense`` named ``logits`` (no softmax: losses take logits).
"""
from __future__ import annotations

import math

import keras

from kerasdl.models.base import FunctionalModel

FEATURE_PREFIX = "feature_stride"
CLASSIFIER = dict(task="classification", deployable=True)  # registry info of every classifier
TINY = {  # the contract's small build of a family (channels 8-32, CIFAR-size input)
    "width": 1 / 16, "input_shape": (32, 32, 3), "num_classes": 5, "small_input": True}


def image_input(input_shape) -> keras.KerasTensor:
    return keras.Input(tuple(input_shape), name="image")


def scaled_channels(channels: float, width: float = 1.0, divisor: int = 8, min_value=None) -> int:
    """``channels * width`` rounded to a multiple of ``divisor``, never below 90% of the target
    (MobileNet's ``_make_divisible``); ``width == 1`` returns ``channels`` unchanged."""
    if width == 1.0:
        return int(channels)
    target = channels * width
    min_value = min_value or divisor
    rounded = max(min_value, int(target + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * target else rounded)


def mark_feature(x, inputs):
    """Name ``x`` as the feature map at its stride (an Identity layer, free in XLA and TFLite).

    The stride is the input/feature side ratio rounded to a power of two: 28 px inputs end at
    4 x 4 after three "same"-padded halvings, which is stride 8, not 28 // 4 = 7.
    """
    stride = 2 ** round(math.log2(inputs.shape[1] / x.shape[1]))
    return keras.layers.Identity(name=f"{FEATURE_PREFIX}{stride}")(x)


def classifier_head(x, num_classes: int, dropout: float = 0.0, pooling: str = "avg"):
    """Global pooling -> dropout -> float32 logits."""
    pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
    x = pool(name="pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)


def class_map_logits(x):
    """Global average pooling of one feature map per class -> float32 logits (NiN, Lin et al.
    2014, Sec. 3.2; SqueezeNet's head). The float32 identity names the logits and casts them
    under mixed precision; the class maps come from the last conv, so no Dense is needed."""
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Activation("linear", dtype="float32", name="logits")(x)


class ConvNet(FunctionalModel):
    """A classifier whose stage outputs are named feature maps; see the module docstring."""

    @property
    def feature_strides(self) -> list[int]:
        return sorted(int(layer.name[len(FEATURE_PREFIX):]) for layer in self.layers
                      if layer.name.startswith(FEATURE_PREFIX))

    def backbone(self, strides=None) -> keras.Model:
        """The image -> ``{"stride4": map, ...}`` model over the same weights (no head).

        ``strides`` picks levels (default: all). Training it trains this classifier's layers.
        """
        strides = self.feature_strides if strides is None else list(strides)
        missing = sorted(set(strides) - set(self.feature_strides))
        if missing:
            raise ValueError(f"{self.name} has no feature maps at strides {missing}; "
                             f"it has {self.feature_strides}")
        outputs = {f"stride{s}": self.get_layer(f"{FEATURE_PREFIX}{s}").output for s in strides}
        return keras.Model(self.inputs[0], outputs, name=f"{self.name}_backbone")
