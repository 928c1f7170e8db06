"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016): AlexNet accuracy from fire modules.

A fire module squeezes with 1x1 convs, then expands with 1x1 and 3x3 convs side by side
(Fig. 1). The classifier is NiN's: a 1x1 conv to one map per class, ReLU, global average
pooling — so the float32 "logits" layer is ``class_map_logits``' identity after the pool, not a
Dense. Convs keep their bias and there is no BatchNorm, as in the paper and torchvision.
"""
from __future__ import annotations

import functools

import keras

from kerasdl.layers.blocks import conv_relu, max_pool_ceil
from kerasdl.models.base import register_model
from kerasdl.models.vision.convnet import (CLASSIFIER, TINY, ConvNet, class_map_logits,
                                           image_input, mark_feature, scaled_channels)


def fire_module(x, squeeze: int, expand: int, *, name: str):
    """1x1 squeeze -> (1x1 expand ‖ 3x3 expand), all ReLU; ``2 * expand`` output channels."""
    x = conv_relu(x, squeeze, 1, name=f"{name}_squeeze")
    return keras.layers.Concatenate(name=f"{name}_concat")([
        conv_relu(x, expand, 1, name=f"{name}_expand1x1"),
        conv_relu(x, expand, 3, name=f"{name}_expand3x3")])


SQUEEZENET_VERSIONS = {  # stem (filters, kernel); stages of fire modules (squeeze, expand)
    "1.0": ((96, 7), (((16, 64), (16, 64), (32, 128)),
                      ((32, 128), (48, 192), (48, 192), (64, 256)),
                      ((64, 256),))),
    "1.1": ((64, 3), (((16, 64), (16, 64)),
                      ((32, 128), (32, 128)),
                      ((48, 192), (48, 192), (64, 256), (64, 256)))),
}


class SqueezeNet(ConvNet):
    """SqueezeNet (Iandola et al. 2016, Table 1 / Fig. 2 left) as torchvision builds it:
    ``version="1.0"`` (7x7/2 stem, 96 filters) or ``"1.1"`` (3x3/2 stem, 64 filters, earlier
    pools: 2.4x less computation, same accuracy). Fire modules fire2..fire9 in three stages,
    each after a ceil-mode 3x3/2 max-pool; dropout 0.5; 1x1 conv to ``num_classes`` maps ->
    ReLU -> global average = logits (non-negative, as published).

    ``small_input``: a 3x3 stride-1 "same" stem (32 px -> 4x4 at the end).
    """

    @staticmethod
    def build_graph(num_classes=1000, input_shape=(224, 224, 3), small_input=False, width=1.0,
                    dropout=0.5, version="1.0"):
        if version not in SQUEEZENET_VERSIONS:
            raise ValueError(f"SqueezeNet version must be one of {sorted(SQUEEZENET_VERSIONS)}")
        (stem_filters, stem_kernel), stages = SQUEEZENET_VERSIONS[version]
        channels = functools.partial(scaled_channels, width=width)
        inputs = image_input(input_shape)
        if small_input:
            x = conv_relu(inputs, channels(stem_filters), 3, name="conv1")
        else:
            x = conv_relu(inputs, channels(stem_filters), stem_kernel, 2, padding="valid",
                          name="conv1")
        x = mark_feature(x, inputs)
        fire = 2
        for stage, modules in enumerate(stages, start=1):
            x = max_pool_ceil(x, name=f"pool{stage}")
            for squeeze, expand in modules:
                x = fire_module(x, channels(squeeze), channels(expand), name=f"fire{fire}")
                fire += 1
            x = mark_feature(x, inputs)
        if dropout:
            x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = conv_relu(x, num_classes, 1, name="class_maps")
        return inputs, class_map_logits(x)


SQUEEZENET_PARAMS = {"1.0": 1_248_424, "1.1": 1_235_496}  # torchvision weights meta
for version, count in SQUEEZENET_PARAMS.items():  # squeezenet1_0, squeezenet1_1
    name = f"squeezenet{version.replace('.', '_')}"
    register_model(name, defaults={"version": version},
                   tags=("vision", "classifier", "squeezenet"), **CLASSIFIER, small=TINY,
                   heavy=version == "1.0", params=count,
                   params_source=f"torchvision.models.{name} (num_params in its weights meta)",
                   )(SqueezeNet)
del version, count, name
