"""Global Convolutional Network (Peng et al., "Large Kernel Matters", CVPR 2017).

- **GCN block** (Fig. 2b): a k x k receptive field at O(k) cost: a (k x 1 -> 1 x k) branch plus a
  (1 x k -> k x 1) branch, summed; no BN or nonlinearity inside (the paper's choice). With biases
  its parameters are ``2·k·(C_in·C_out + C_out·C_out) + 4·C_out``.
- **Boundary refinement** (Fig. 2c): a residual ``x + conv3x3(relu(conv3x3(x)))``.

The network (Fig. 2a): GCN + BR on the stride-32/16/8/4 maps of a ResNet, each to class-score
maps; from the coarsest, a learnable x2 transposed conv (bilinear-initialised, as FCN) added to the
next finer score map, then BR; at stride 4 two more (x2 upsample, BR) steps reach the input size.
"""
from __future__ import annotations

import keras

from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.segmentation.common import (SMALL_BACKBONE, SMALL_INPUT, TAGS, TASK,
                                                backbone_features, bilinear_upsample, pick)


def global_conv_block(x, filters: int, kernel_size: int = 15, *, name: str):
    """GCN: ``conv_1xk(conv_kx1(x)) + conv_kx1(conv_1xk(x))`` to ``filters`` channels."""
    if kernel_size < 1:
        raise ValueError(f"GCN kernel_size must be >= 1, got {kernel_size}")
    k = kernel_size
    conv = lambda t, shape, n: keras.layers.Conv2D(filters, shape, padding="same", name=f"{name}_{n}")(t)  # noqa: E731
    left = conv(conv(x, (k, 1), "left_kx1"), (1, k), "left_1xk")
    right = conv(conv(x, (1, k), "right_1xk"), (k, 1), "right_kx1")
    return keras.layers.Add(name=f"{name}_sum")([left, right])


def boundary_refinement(x, *, name: str):
    """BR: ``x + conv3x3(relu(conv3x3(x)))`` at the input's width."""
    y = keras.layers.Conv2D(x.shape[-1], 3, padding="same", activation="relu", name=f"{name}_conv1")(x)
    y = keras.layers.Conv2D(x.shape[-1], 3, padding="same", name=f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


@register_model("gcn_large_kernel", tags=(*TAGS, "gcn_large_kernel"), **TASK,
                small={"num_classes": 3, "input_shape": SMALL_INPUT, "kernel_size": 3, "backbone": "resnet18",
                       "backbone_kwargs": SMALL_BACKBONE},
                heavy=True)  # contract with -m slow (ResNet-encoder XLA compile, as FCN/DeepLab)
class LargeKernelGCN(FunctionalModel):
    """GCN segmenter over ``backbone``'s stride-32/16/8/4 maps with ``kernel_size`` k (the paper's
    best: 15 at 512 px). Score maps have ``num_classes`` channels throughout, as in the paper; the
    output is float32 logits at the input size (side divisible by 32)."""

    @staticmethod
    def build_graph(num_classes=21, input_shape=(512, 512, 3), backbone="resnet50",
                    backbone_kwargs=None, kernel_size=15):
        if any(side % 32 for side in input_shape[:2]):
            raise ValueError(f"GCN: input height and width must be divisible by 32, got "
                             f"{tuple(input_shape[:2])}")
        inputs, features = backbone_features(input_shape, backbone, backbone_kwargs)
        scores = None
        for stride in (32, 16, 8, 4):
            s = global_conv_block(pick(features, stride, backbone), num_classes, kernel_size,
                                  name=f"gcn{stride}")
            s = boundary_refinement(s, name=f"br{stride}")
            if scores is not None:
                up = bilinear_upsample(scores, 2, name=f"up{2 * stride}to{stride}")
                s = boundary_refinement(keras.layers.Add(name=f"fuse{stride}")([s, up]),
                                        name=f"br{stride}_fused")
            scores = s
        for stride in (2, 1):
            scores = bilinear_upsample(scores, 2, name=f"up_to_stride{stride}")
            scores = boundary_refinement(scores, name=f"br_stride{stride}")
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(scores)
        return inputs, logits
