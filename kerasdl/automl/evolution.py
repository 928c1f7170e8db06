"""Regularised (aging) evolution over genotypes (Real, Aggarwal, Huang & Le, 2019, Algorithm 1).

A population of ``population_size`` genotypes starts at random. Each cycle draws ``sample_size``
members uniformly, mutates the fittest of them (:func:`~kerasdl.automl.cell_space.mutate`),
evaluates the child, adds it to the population and removes the *oldest* member — not the
worst: aging, which favours architectures that keep re-earning their place through their
descendants over ones that got a lucky evaluation once.
"""
from __future__ import annotations

import collections
import dataclasses
import time

import numpy as np

from kerasdl.automl.cell_space import Genotype, mutate, random_genotype


@dataclasses.dataclass(frozen=True)
class Candidate:
    genotype: Genotype
    fitness: float
    born: int  # evaluation index (0-based): the order of birth
    parent: int | None  # the parent's birth index (None for the initial population)
    seconds: float  # wall time of its evaluation


class RegularizedEvolution:
    """Args:
        evaluate: ``evaluate(genotype) -> fitness`` (higher is better), e.g. a proxy training.
        population_size, sample_size: P and S of the paper (S ≤ P).
        nodes: intermediate nodes of the cell space.
        seed: seeds the initial population, the tournaments and the mutations.
    """

    def __init__(self, evaluate, population_size: int = 10, sample_size: int = 3,
                 nodes: int = 4, seed: int = 0):
        if not 1 <= sample_size <= population_size:
            raise ValueError(f"need 1 <= sample_size <= population_size, got {sample_size} and "
                             f"{population_size}")
        self.evaluate, self.nodes = evaluate, nodes
        self.population_size, self.sample_size = population_size, sample_size
        self.rng = np.random.default_rng(seed)
        self.population: collections.deque[Candidate] = collections.deque()
        self.history: list[Candidate] = []

    def _add(self, genotype: Genotype, parent: int | None) -> Candidate:
        start = time.perf_counter()
        fitness = float(self.evaluate(genotype))
        child = Candidate(genotype, fitness, len(self.history), parent,
                          time.perf_counter() - start)
        self.history.append(child)
        self.population.append(child)
        return child

    def cycle(self) -> Candidate:
        """One step: fill the initial population, or tournament → mutate → evaluate → age."""
        if len(self.population) < self.population_size:
            return self._add(random_genotype(self.rng, self.nodes), None)
        picks = self.rng.choice(len(self.population), self.sample_size, replace=False)
        parent = max((self.population[i] for i in picks), key=lambda c: c.fitness)
        child = self._add(mutate(parent.genotype, self.rng), parent.born)
        self.population.popleft()  # aging: the oldest dies, whatever its fitness
        return child

    def run(self, evaluations: int, verbose: int = 1) -> Candidate:
        """Cycle until ``evaluations`` candidates (initial population included) were evaluated;
        returns the best candidate ever evaluated (the paper's output)."""
        import keras

        bar = keras.utils.Progbar(evaluations, verbose=verbose, stateful_metrics=["best", "last"])
        while len(self.history) < evaluations:
            child = self.cycle()
            bar.update(len(self.history), [("last", child.fitness), ("best", self.best.fitness)])
        return self.best

    @property
    def best(self) -> Candidate:
        if not self.history:
            raise ValueError("nothing evaluated yet")
        return max(self.history, key=lambda c: c.fitness)
