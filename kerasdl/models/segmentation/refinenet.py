"""RefineNet (Lin et al., CVPR 2017): multi-path refinement of a ResNet's stride-32/16/8/4 maps.

Each RefineNet block takes one or two paths (the coarser refined map and the next finer encoder
map) and applies (Fig. 3):

- **RCU** (residual conv unit): ``x + conv3x3(relu(conv3x3(relu(x))))``, two per path;
- **multi-resolution fusion**: a 3x3 conv per path to the block's width, bilinear upsampling to
  the finest path's size, summed;
- **chained residual pooling**: ``x = relu(x)``, then ``stages`` times ``p = conv3x3(maxpool5x5/1(p))``,
  ``x = x + p`` (each pooling works on the previous stage's output);
- one output RCU.

The 4-cascaded form: RefineNet-4 refines the stride-32 map alone (width ``2·filters``, the paper's
512 vs 256), RefineNet-3/2/1 fuse it with the stride-16/8/4 maps; two RCUs, 1x1 class scores at
stride 4, bilinear x4 to the input size. (The paper's dropout before the scores is kept.)
"""
from __future__ import annotations

import keras

from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.segmentation.common import (SMALL_BACKBONE, SMALL_INPUT, TAGS, TASK,
                                                backbone_features, logits_head, pick, resize_to)


def _conv(x, filters: int, name: str, kernel_size: int = 3, use_bias: bool = False):
    return keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=use_bias, name=name)(x)


def residual_conv_unit(x, *, name: str):
    """RCU: ``x + conv(relu(conv(relu(x))))`` (3x3, the input's width; the first conv has a bias,
    as in the reference code)."""
    filters = x.shape[-1]
    y = keras.layers.ReLU(name=f"{name}_relu1")(x)
    y = _conv(y, filters, f"{name}_conv1", use_bias=True)
    y = keras.layers.ReLU(name=f"{name}_relu2")(y)
    y = _conv(y, filters, f"{name}_conv2")
    return keras.layers.Add(name=f"{name}_add")([x, y])


def multi_resolution_fusion(paths, filters: int, *, name: str):
    """3x3 conv of each path to ``filters``, bilinear upsampling to the largest map, sum; a
    single path passes through unchanged."""
    if len(paths) == 1:
        return paths[0]
    size = max((tuple(p.shape[1:3]) for p in paths), key=lambda s: s[0] * s[1])
    ups = [resize_to(_conv(p, filters, f"{name}_conv{i}"), size, f"{name}_up{i}")
           for i, p in enumerate(paths)]
    return keras.layers.Add(name=f"{name}_sum")(ups)


def chained_residual_pooling(x, stages: int = 2, *, name: str):
    """CRP: ``relu``, then ``stages`` chained (5x5 stride-1 max-pool -> 3x3 conv) blocks, each
    output added to the running sum."""
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    path = x
    for i in range(1, stages + 1):
        path = keras.layers.MaxPooling2D(5, 1, padding="same", name=f"{name}_pool{i}")(path)
        path = _conv(path, x.shape[-1], f"{name}_conv{i}")
        x = keras.layers.Add(name=f"{name}_add{i}")([x, path])
    return x


def refine_block(paths, filters: int, *, name: str, pool_stages: int = 2):
    """One RefineNet block over ``paths`` (any sizes): an adapting 3x3 conv to ``filters`` and two
    RCUs per path, fusion, chained residual pooling, an output RCU."""
    adapted = []
    for i, p in enumerate(paths):
        p = _conv(p, filters, f"{name}_path{i}_adapt") if p.shape[-1] != filters else p
        for r in (1, 2):
            p = residual_conv_unit(p, name=f"{name}_path{i}_rcu{r}")
        adapted.append(p)
    x = multi_resolution_fusion(adapted, filters, name=f"{name}_fusion")
    x = chained_residual_pooling(x, pool_stages, name=f"{name}_crp")
    return residual_conv_unit(x, name=f"{name}_out_rcu")


@register_model("refinenet", tags=(*TAGS, "refinenet"), **TASK,
                small={"num_classes": 3, "input_shape": SMALL_INPUT, "filters": 8, "backbone": "resnet18",
                       "backbone_kwargs": SMALL_BACKBONE, "pool_stages": 1},
                heavy=True)  # contract with -m slow (ResNet-encoder XLA compile, as FCN/DeepLab)
class RefineNet(FunctionalModel):
    """4-cascaded RefineNet over ``backbone``'s stride-32/16/8/4 maps (see the module docstring);
    ``filters``: width of RefineNet-3/2/1 (RefineNet-4 uses twice that); ``pool_stages``: chained
    pooling blocks per CRP (the paper's Fig. 3 draws 2, its code uses 4 in later versions)."""

    @staticmethod
    def build_graph(num_classes=21, input_shape=(512, 512, 3), backbone="resnet101",
                    backbone_kwargs=None, filters=256, pool_stages=2, dropout=0.5):
        inputs, features = backbone_features(input_shape, backbone, backbone_kwargs)
        x = refine_block([pick(features, 32, backbone)], 2 * filters, name="refine4",
                         pool_stages=pool_stages)
        for level, stride in ((3, 16), (2, 8), (1, 4)):
            x = refine_block([x, pick(features, stride, backbone)], filters, name=f"refine{level}",
                             pool_stages=pool_stages)
        for r in (1, 2):
            x = residual_conv_unit(x, name=f"head_rcu{r}")
        if dropout:
            x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        return inputs, resize_to(logits_head(x, num_classes, "scores"), tuple(input_shape[:2]), "logits")
