"""The weight-sharing supernet over the cell space: every edge of every cell holds all candidate
operations (``MixedOp``), in the layout of ``darts_network`` (same stem, reductions, head).

Two ways to run it:

- ``supernet(x)``: DARTS' relaxation — each edge is Σₖ softmax(α_e)ₖ·oₖ; the architecture
  parameters ``alpha`` [num_edges, len(OPERATIONS)] are shared by all cells (as DARTS shares one α
  per cell type).
- ``supernet(x, codes=c)``: one path, the genotype whose :meth:`Genotype.edge_codes` is ``c``
  (an int32 [num_edges] tensor); only the chosen operations run (one-shot / SPOS).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.automl.cell_space import derive_genotype, edge_index, num_edges
from kerasdl.layers.nas import OPERATIONS, MixedOp, ReLUConvBN
from kerasdl.train.trainer import Trainer
from kerasdl.models.vision.darts_network import (
    head_layers, network_plan, preprocess_layers, stem_layers)


class SearchCell(keras.layers.Layer):
    """A cell whose node i sums a ``MixedOp`` on each of its 2 + i earlier states."""

    def __init__(self, filters, nodes, reduction_prev, operations=OPERATIONS, **kwargs):
        super().__init__(**kwargs)
        self.nodes = nodes
        self.pre0, self.pre1 = preprocess_layers(filters, reduction_prev, "cell")
        self.edges = [MixedOp(filters, operations, name=f"edge{e}")
                      for e in range(num_edges(nodes))]

    def call(self, s0, s1, weights=None, codes=None, training=None):
        """``weights`` [num_edges, ops] (relaxation) or ``codes`` [num_edges] (one path)."""
        states = [self.pre0(s0, training=training), self.pre1(s1, training=training)]
        for i in range(self.nodes):
            terms = []
            for src, h in enumerate(states):
                e = edge_index(i, src)
                terms.append(self.edges[e](h, training=training,
                                           **({"weights": weights[e]} if codes is None
                                              else {"code": codes[e]})))
            states.append(tf.add_n(terms))
        return tf.concat(states[2:], axis=-1)


class Supernet(keras.Model):
    """The supernet; ``alpha`` starts at N(0, σ = 10⁻³) as in DARTS (nearly uniform softmax)."""

    def __init__(self, num_classes=10, input_shape=(28, 28, 1), channels=8, cells_per_stage=(1, 1, 1),
                 nodes=4, stem_multiplier=3, stem_strides=1, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape, self.nodes = tuple(input_shape), int(nodes)
        self.alpha = self.add_weight(shape=(num_edges(self.nodes), len(OPERATIONS)), name="alpha",
                                     initializer=keras.initializers.RandomNormal(stddev=1e-3,
                                                                                 seed=seed))
        self.stem = stem_layers(stem_multiplier * channels, stem_strides)
        self.blocks = []
        for index, (kind, filters, reduction_prev) in enumerate(network_plan(cells_per_stage,
                                                                              channels)):
            if kind == "reduce":
                self.blocks.append(ReLUConvBN(filters, 3, strides=2, name=f"reduce{index}"))
            else:
                self.blocks.append(SearchCell(filters, self.nodes, reduction_prev,
                                              name=f"cell{index}"))
        self.head = head_layers(num_classes, dropout)
        self.path_seed = keras.random.SeedGenerator(seed, name="path_seed")  # one-shot sampling
        self(tf.zeros((1, *self.image_shape)))  # create every variable now

    @property
    def input_specs(self) -> list:
        """What the data's images must look like (for the Trainer's input check)."""
        return [tf.TensorSpec((None, *self.image_shape), tf.float32)]

    def network_weights(self) -> list:
        """Trainable variables other than ``alpha``: what the weight optimizer updates."""
        return [v for v in self.trainable_variables if v is not self.alpha]

    def call(self, x, training=False, codes=None):
        weights = None if codes is not None else tf.nn.softmax(self.alpha, axis=-1)
        for layer in self.stem:
            x = layer(x, training=training)
        s0 = s1 = x
        for block in self.blocks:
            if isinstance(block, SearchCell):
                s0, s1 = s1, block(s0, s1, weights=weights, codes=codes, training=training)
            else:
                s0, s1 = s1, block(s1, training=training)
        x = s1
        for layer in self.head:
            x = layer(x, training=training)
        return x

    def genotype(self):
        """The discrete cell DARTS derives from the current ``alpha``."""
        return derive_genotype(self.alpha.numpy(), self.nodes)


class SupernetTrainer(Trainer):
    """A Trainer of a supernet's shared network weights (not ``alpha``) on ``(x, y, ...)``
    batches with sparse softmax cross-entropy and accuracy; DARTS and one-shot subclass it."""

    def __init__(self, supernet: Supernet, optimizer, **trainer_kwargs):
        self.supernet = supernet
        super().__init__(supernet, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                         optimizer, [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                         **trainer_kwargs)

    def optimized_variables(self) -> list:
        return self.supernet.network_weights()

    @property
    def data_inputs(self) -> list:
        return self.supernet.input_specs
