"""The NAS search space: a DARTS cell and its discrete form, the genotype.

A cell has two input states (the outputs of the two previous cells, numbered 0 and 1) and
``nodes`` intermediate nodes (numbered 2, 3, ...); its output concatenates the intermediate
nodes. In the *supernet* every node sums a mixed operation on every earlier state, so node i has
2 + i incoming edges and a cell has Σᵢ (2 + i) edges (14 for 4 nodes). A *genotype* keeps, for
each node, two (operation, input state) pairs from distinct states: node = op₁(h_a) + op₂(h_b).

A genotype also reads as one path through the supernet: an int code per edge, the index into
``OPERATIONS`` of the operation kept there, 0 (``none``) where the edge is absent
(:meth:`Genotype.edge_codes`).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from kerasdl.layers.nas import OPERATIONS, ZERO


def num_edges(nodes: int) -> int:
    """Edges of a supernet cell with ``nodes`` intermediate nodes: Σᵢ (2 + i)."""
    return sum(2 + i for i in range(nodes))


def edge_index(node: int, source: int) -> int:
    """Index of the edge from state ``source`` into intermediate node ``node`` (0-based)."""
    if not 0 <= source < 2 + node:
        raise ValueError(f"node {node} takes states 0..{node + 1}, not {source}")
    return num_edges(node) + source


@dataclasses.dataclass(frozen=True)
class Genotype:
    """A discrete cell: ``nodes[i] = ((op, source), (op, source))`` for intermediate node i
    (each node's pairs are kept sorted by source, so equal cells compare equal)."""

    nodes: tuple

    def __post_init__(self):
        if not self.nodes:
            raise ValueError("a genotype needs at least one intermediate node")
        normalised = []
        for i, node in enumerate(self.nodes):
            pairs = tuple((str(op), int(src)) for op, src in node) if _pairs(node) else None
            if pairs is None or len(pairs) != 2:
                raise ValueError(f"node {i} of the genotype must be two (operation, input) pairs, "
                                 f"got {node!r}")
            for op, src in pairs:
                if op == ZERO or op not in OPERATIONS:
                    raise ValueError(f"node {i}: operation {op!r} is not one of "
                                     f"{', '.join(o for o in OPERATIONS if o != ZERO)}")
                if not 0 <= src < 2 + i:
                    raise ValueError(f"node {i} may take states 0..{i + 1}, not {src}")
            if pairs[0][1] == pairs[1][1]:
                raise ValueError(f"node {i}: its two inputs must be distinct states, got "
                                 f"{pairs[0][1]} twice")
            normalised.append(tuple(sorted(pairs, key=lambda p: p[1])))  # canonical: by input
        object.__setattr__(self, "nodes", tuple(normalised))

    @classmethod
    def from_list(cls, nodes) -> "Genotype":
        """From the JSON form ``[[[op, src], [op, src]], ...]`` (or a Genotype)."""
        return nodes if isinstance(nodes, Genotype) else cls(tuple(nodes))

    def to_list(self) -> list:
        """The JSON form, as model configs hold it."""
        return [[[op, src] for op, src in node] for node in self.nodes]

    def edge_codes(self) -> np.ndarray:
        """int32 [num_edges]: the operation index kept on each supernet edge, 0 where absent."""
        codes = np.zeros(num_edges(len(self.nodes)), np.int32)
        for i, node in enumerate(self.nodes):
            for op, src in node:
                codes[edge_index(i, src)] = OPERATIONS.index(op)
        return codes

    def __str__(self) -> str:
        return "; ".join(f"n{i + 2}=" + "+".join(f"{op}({src})" for op, src in node)
                         for i, node in enumerate(self.nodes))


def _pairs(node) -> bool:
    return isinstance(node, (list, tuple)) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 for p in node)


# DARTS (second order) normal cell, Liu et al. 2019 (genotypes.py, DARTS_V2); its ops are all here.
DARTS_V2 = Genotype((
    (("sep_conv_3x3", 0), ("sep_conv_3x3", 1)),
    (("sep_conv_3x3", 0), ("sep_conv_3x3", 1)),
    (("sep_conv_3x3", 1), ("skip_connect", 0)),
    (("skip_connect", 0), ("dil_conv_3x3", 2)),
))

_CANDIDATES = tuple(op for op in OPERATIONS if op != ZERO)


def random_genotype(rng: np.random.Generator, nodes: int = 4) -> Genotype:
    """A genotype drawn uniformly: per node, two distinct input states and two operations."""
    cell = []
    for i in range(nodes):
        sources = rng.choice(2 + i, size=2, replace=False)
        cell.append(tuple((str(rng.choice(_CANDIDATES)), int(s)) for s in sources))
    return Genotype(tuple(cell))


def softmax(alpha: np.ndarray) -> np.ndarray:
    z = np.exp(alpha - alpha.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def derive_genotype(alpha, nodes: int | None = None) -> Genotype:
    """DARTS' discretisation: per node keep the two incoming edges whose strongest non-zero
    operation has the largest softmax weight, each with that operation (ties: lower index).

    ``alpha``: [num_edges, len(OPERATIONS)] architecture parameters (logits).
    """
    alpha = np.asarray(alpha, np.float64)
    if nodes is None:
        nodes = next((n for n in range(1, 64) if num_edges(n) == len(alpha)), None)
    if alpha.ndim != 2 or alpha.shape != (num_edges(nodes or 0), len(OPERATIONS)):
        raise ValueError(f"alpha must be [num_edges(nodes), {len(OPERATIONS)}], got {alpha.shape}")
    weights = softmax(alpha)
    weights[:, OPERATIONS.index(ZERO)] = -np.inf  # never keep the zero operation
    cell = []
    for i in range(nodes):
        rows = weights[num_edges(i):num_edges(i) + 2 + i]
        strongest = np.argsort(-rows.max(axis=1), kind="stable")[:2]
        cell.append(tuple((OPERATIONS[int(rows[s].argmax())], int(s)) for s in sorted(strongest)))
    return Genotype(tuple(cell))


def mutate(genotype: Genotype, rng: np.random.Generator) -> Genotype:
    """Real et al. (2019)'s mutations: pick a node and one of its two inputs, then either replace
    its operation by a different one (op mutation) or rewire it to a different earlier state
    (hidden-state mutation; not possible for node 0, whose two inputs are both cell inputs)."""
    cell = [list(node) for node in genotype.nodes]
    i = int(rng.integers(len(cell)))
    k = int(rng.integers(2))
    op, src = cell[i][k]
    other = cell[i][1 - k][1]
    sources = [s for s in range(2 + i) if s not in (src, other)]
    if sources and rng.random() < 0.5:
        cell[i][k] = (op, int(rng.choice(sources)))
    else:
        cell[i][k] = (str(rng.choice([o for o in _CANDIDATES if o != op])), src)
    return Genotype(tuple(tuple(node) for node in cell))
