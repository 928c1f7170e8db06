"""A network of cells from a genotype (DARTS' evaluation network, Liu et al. 2019, at small size).

Layout (shared with the search supernet, :mod:`kerasdl.automl.supernet`): a 3×3 conv + BN stem
of ``stem_multiplier × channels`` (stride ``stem_strides``: 2 quarters the cells' cost on 28×28
images); stages of ``cells_per_stage`` normal cells, each taking the outputs of the two previous
cells; between stages a fixed reduction (ReLU → 3×3 conv, stride 2 → BN) that doubles the
channels (DARTS searches a reduction cell too; here only the normal cell is searched); global
average pooling, dropout and a float32 dense head. A cell pre-processes its
two inputs with ReLU → 1×1 conv → BN (stride 2 for an input from before a reduction: DARTS'
FactorizedReduce, as one strided conv), computes each node as op₁(h_a) + op₂(h_b) and
concatenates its intermediate nodes.
"""
from __future__ import annotations

import keras

from kerasdl.automl.cell_space import DARTS_V2, Genotype
from kerasdl.layers.nas import BN_MOMENTUM, ReLUConvBN, make_operation
from kerasdl.models.base import FunctionalModel, register_model


def network_plan(cells_per_stage, channels: int) -> list[tuple]:
    """``[("cell", filters, reduction_prev) | ("reduce", filters, False), ...]`` for the layout."""
    if not cells_per_stage or any(int(n) < 1 for n in cells_per_stage) or int(channels) < 1:
        raise ValueError(f"need at least one cell in every stage and channels >= 1, got "
                         f"cells_per_stage={cells_per_stage}, channels={channels}")
    plan, filters = [], int(channels)
    for stage, cells in enumerate(cells_per_stage):
        if stage:
            filters *= 2
            plan.append(("reduce", filters, False))
        plan.extend(("cell", filters, stage > 0 and j == 0) for j in range(int(cells)))
    return plan


def stem_layers(filters: int, strides: int = 1) -> list:
    return [keras.layers.Conv2D(filters, 3, strides, padding="same", use_bias=False,
                                name="stem_conv"),
            keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")]


def head_layers(num_classes: int, dropout: float) -> list:
    return [keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dropout(dropout, name="head_dropout"),
            keras.layers.Dense(num_classes, dtype="float32", name="logits")]


def preprocess_layers(filters: int, reduction_prev: bool, name: str) -> tuple:
    """The cell's ReLU-1×1-conv-BN on its two inputs (stride 2 on an input from before a
    reduction)."""
    return (ReLUConvBN(filters, 1, strides=2 if reduction_prev else 1, name=f"{name}_pre0"),
            ReLUConvBN(filters, 1, name=f"{name}_pre1"))


def genotype_cell(s0, s1, genotype: Genotype, filters: int, reduction_prev: bool, name: str):
    """The discrete cell on Keras tensors ``s0`` (two cells back) and ``s1`` (previous cell)."""
    pre0, pre1 = preprocess_layers(filters, reduction_prev, name)
    states = [pre0(s0), pre1(s1)]
    for i, node in enumerate(genotype.nodes):
        terms = [make_operation(op, filters, name=f"{name}_n{i + 2}_{op}_from{src}")(states[src])
                 for op, src in node]
        states.append(keras.layers.Add(name=f"{name}_n{i + 2}")(terms))
    return keras.layers.Concatenate(name=f"{name}_out")(states[2:])


@register_model("darts_network", tags=("vision", "classifier", "nas"), task="classification",
                small={"input_shape": (12, 12, 1), "channels": 4, "cells_per_stage": (1, 1),
                       "stem_multiplier": 1,
                       "genotype": [[["sep_conv_5x5", 0], ["dil_conv_3x3", 1]],
                                    [["avg_pool_3x3", 2], ["max_pool_3x3", 0]]]},
                deployable=True)
class DartsNetwork(FunctionalModel):
    """Cells of ``genotype`` (JSON form, ``Genotype.to_list()``; default DARTS-V2's normal cell)
    stacked as in the module docstring."""

    @staticmethod
    def build_graph(num_classes=10, input_shape=(28, 28, 1), genotype=DARTS_V2.to_list(),
                    channels=16, cells_per_stage=(2, 2, 2), stem_multiplier=3, stem_strides=1,
                    dropout=0.0):
        cell = Genotype.from_list(genotype)
        inputs = keras.Input(tuple(input_shape), name="image")
        x = inputs
        for layer in stem_layers(stem_multiplier * channels, stem_strides):
            x = layer(x)
        s0 = s1 = x
        for index, (kind, filters, reduction_prev) in enumerate(network_plan(cells_per_stage,
                                                                              channels)):
            if kind == "reduce":
                s0, s1 = s1, ReLUConvBN(filters, 3, strides=2, name=f"reduce{index}")(s1)
            else:
                s0, s1 = s1, genotype_cell(s0, s1, cell, filters, reduction_prev, f"cell{index}")
        x = s1
        for layer in head_layers(num_classes, dropout):
            x = layer(x)
        return inputs, x
