"""GraphSAGE neighbour sampling for mini-batches on a large graph (Hamilton et al., 2017, Alg. 2).

For a batch of seed nodes, hop 1 samples up to ``fanouts[0]`` in-neighbours (sources of edges
into the node) of each seed, hop 2 up to ``fanouts[1]`` of each node first reached at hop 1, and so
on. A node with more neighbours than the fanout gets a uniform sample without replacement, one with
fewer keeps them all. The result is one subgraph, the union of the sampled nodes (seeds first) and
the sampled edges, relabelled ``0..n-1`` — the form of PyG's ``NeighborLoader`` — on which a
``K``-layer model computes each seed's output from its sampled ``K``-hop neighbourhood. Its node
and edge counts are padded to the worst case of the batch size and fanouts, so every mini-batch has
the same shapes (one trace of a compiled step).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kerasdl.graph.edges import PAD, check_edges


@dataclass
class SampledSubgraph:
    """One mini-batch: its first ``num_seeds`` nodes are the seeds (sorted), the rows a loss reads."""

    nodes: np.ndarray  # [n_max] int32 global ids of the subgraph's nodes, 0 on padding
    edges: np.ndarray  # [e_max, 2] int32 local (source, target) rows, -1 rows are padding
    node_mask: np.ndarray  # [n_max] float32, 1 for sampled nodes
    num_seeds: int

    def inputs(self, node_features: np.ndarray) -> tuple:
        """Model inputs ``(x [1, n_max, F], edges [1, e_max, 2])`` with the nodes' features."""
        x = np.asarray(node_features, np.float32)[self.nodes] * self.node_mask[:, None]
        return x[None], self.edges[None]


class NeighborSampler:
    """Samples :class:`SampledSubgraph` mini-batches of up to ``batch_size`` seed nodes."""

    def __init__(self, edges, num_nodes: int, fanouts=(25, 10), batch_size: int = 64, seed=0):
        edges = check_edges(edges, num_nodes)
        fanouts = tuple(int(f) for f in fanouts)
        if not fanouts or min(fanouts) < 1 or batch_size < 1:
            raise ValueError(f"fanouts must be positive integers and batch_size >= 1, got "
                             f"fanouts={fanouts}, batch_size={batch_size}")
        order = np.argsort(edges[:, 1], kind="stable")
        self._sources = edges[order, 0]
        self._indptr = np.searchsorted(edges[order, 1], np.arange(num_nodes + 1)).astype(np.int64)
        self.num_nodes, self.fanouts, self.batch_size = num_nodes, fanouts, batch_size
        self._rng = np.random.default_rng(seed)
        self._local = np.full(num_nodes, -1, np.int64)  # global -> local id, reset after each call
        per_seed = np.cumprod(fanouts)
        self.max_nodes = int(batch_size * (1 + per_seed.sum()))
        self.max_edges = int(batch_size * per_seed.sum())

    def _neighbours(self, node: int, fanout: int) -> np.ndarray:
        start, stop = self._indptr[node], self._indptr[node + 1]
        if stop - start <= fanout:
            return self._sources[start:stop]
        return self._sources[start + self._rng.choice(stop - start, fanout, replace=False)]

    def sample(self, seeds) -> SampledSubgraph:
        seeds = np.unique(np.asarray(seeds, np.int64))
        if not 1 <= len(seeds) <= self.batch_size:
            raise ValueError(f"need 1..{self.batch_size} distinct seed nodes, got {len(seeds)}")
        if seeds[0] < 0 or seeds[-1] >= self.num_nodes:
            raise ValueError(f"seed node ids must lie in [0, {self.num_nodes})")
        nodes = list(seeds)
        self._local[seeds] = np.arange(len(seeds))
        frontier, sources, targets = seeds, [], []
        for fanout in self.fanouts:
            reached = []
            for node in frontier:
                for neighbour in self._neighbours(node, fanout):
                    if self._local[neighbour] < 0:
                        self._local[neighbour] = len(nodes)
                        nodes.append(neighbour)
                        reached.append(neighbour)
                    sources.append(self._local[neighbour])
                    targets.append(self._local[node])
            frontier = np.asarray(reached, np.int64)
        nodes = np.asarray(nodes, np.int64)
        self._local[nodes] = -1
        padded_nodes = np.zeros(self.max_nodes, np.int32)
        padded_nodes[:len(nodes)] = nodes
        mask = np.zeros(self.max_nodes, np.float32)
        mask[:len(nodes)] = 1.0
        edges = np.full((self.max_edges, 2), PAD, np.int32)
        edges[:len(sources)] = np.stack([sources, targets], 1) if sources else np.zeros((0, 2))
        return SampledSubgraph(padded_nodes, edges, mask, len(seeds))

    def batches(self, nodes, shuffle: bool = True):
        """Yield subgraphs whose seeds cover ``nodes`` once, ``batch_size`` at a time."""
        nodes = np.asarray(nodes)
        order = self._rng.permutation(len(nodes)) if shuffle else np.arange(len(nodes))
        for start in range(0, len(nodes), self.batch_size):
            yield self.sample(nodes[order[start:start + self.batch_size]])
