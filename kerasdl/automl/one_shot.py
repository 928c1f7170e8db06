"""One-shot NAS with a weight-sharing supernet and uniform single-path sampling (SPOS: Guo et
al., 2020; Bender et al., 2018).

1. Train the supernet's weights once; every step runs one sub-architecture drawn uniformly from
   the cell space (per node: two distinct input states, an operation for each), so all of them
   learn to work with the shared weights.
2. Rank sub-architectures by their validation accuracy with the *inherited* weights — no
   training of their own — and keep the best (then retrain it from scratch).

The curriculum's caveat holds: inherited-weight accuracy is a proxy whose ranking need not
match stand-alone training, and one supernet must fit the whole space in memory.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasdl.automl.cell_space import Genotype, edge_index
from kerasdl.layers.nas import OPERATIONS
from kerasdl.automl.supernet import SupernetTrainer


def sample_edge_codes(seed_generator, nodes: int, num_operations: int = len(OPERATIONS)):
    """A uniformly drawn genotype as edge codes (int32 [num_edges]), in graph: per node, two
    distinct input states (top 2 of uniform scores) with an operation each from 1..K−1."""
    codes = []
    for i in range(nodes):
        scores = keras.random.uniform((2 + i,), seed=seed_generator)
        _, chosen = tf.math.top_k(scores, k=2)
        ops = keras.random.randint((2,), 1, num_operations, seed=seed_generator, dtype="int32")
        codes.append(tf.scatter_nd(tf.expand_dims(chosen, 1), ops, [2 + i]))
    return tf.concat(codes, axis=0)


def genotype_from_codes(codes, nodes: int) -> Genotype:
    """The genotype of edge codes with exactly two non-zero edges per node."""
    codes = np.asarray(codes)
    cell = []
    for i in range(nodes):
        cell.append(tuple((OPERATIONS[int(codes[edge_index(i, s)])], s) for s in range(2 + i)
                          if codes[edge_index(i, s)] != 0))
    return Genotype(tuple(cell))


class OneShotTrainer(SupernetTrainer):
    """Train a supernet's shared weights on uniformly sampled single paths.

    Args:
        supernet: a :class:`~kerasdl.automl.supernet.Supernet` (its ``alpha`` is not used).
        optimizer: default SGD (lr 0.05, momentum 0.9, weight decay 4·10⁻⁵).
        Other keyword arguments go to :class:`kerasdl.train.Trainer`.

    Paths are drawn with the supernet's ``path_seed`` (its checkpoints hold the sampler state).
    Sub-architectures not drawn get zero gradients; with momentum they still drift slightly
    (PyTorch's SPOS leaves them untouched). ``evaluate`` reports a fresh random path per batch.
    """

    def __init__(self, supernet, optimizer=None, **trainer_kwargs):
        super().__init__(
            supernet, optimizer or keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=4e-5),
            **trainer_kwargs)

    def forward(self, x, training):
        """The supernet on a freshly sampled path (train and eval steps alike)."""
        codes = sample_edge_codes(self.supernet.path_seed, self.supernet.nodes)
        return self.model(x, training=training, codes=codes)


class InheritedAccuracy:
    """Validation accuracy of a sub-architecture with the supernet's weights, untrained.

    Batch norm uses each validation batch's own statistics (training-mode BN): the running
    statistics were accumulated over many different paths and fit none of them (SPOS
    recalibrates them per path; batch statistics of large batches do the same job without a
    pass over training data; the running statistics move as a side effect). Call it with a
    :class:`Genotype`; one compiled graph serves all.
    """

    def __init__(self, supernet, x_val, y_val, batch_size: int = 500):
        self.supernet = supernet
        from kerasdl.data.pipelines import from_arrays

        self.data = from_arrays(x_val, y_val, batch_size, training=False)
        self.examples = len(x_val)

        @tf.function(reduce_retracing=True)
        def correct(x, y, codes):
            logits = supernet(x, training=True, codes=codes)
            hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(y, tf.int32))
            return tf.reduce_sum(tf.cast(hits, tf.int32))

        self._correct = correct

    def __call__(self, genotype: Genotype) -> float:
        codes = tf.constant(Genotype.from_list(genotype).edge_codes())
        hits = sum(int(self._correct(x, y, codes)) for x, y in self.data)
        return hits / self.examples


def rank_architectures(evaluate, genotypes) -> list[tuple[float, Genotype]]:
    """``(score, genotype)`` pairs, best first (stable for ties), for ``evaluate(genotype)``."""
    scored = [(float(evaluate(g)), g) for g in genotypes]
    return sorted(scored, key=lambda pair: -pair[0])
