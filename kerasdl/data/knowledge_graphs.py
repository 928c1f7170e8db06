"""Small benchmark knowledge graphs for link prediction, from pykeen's bundled copies (see
:mod:`kerasdl.data.sources`): ``load_dataset("nations")`` -> :class:`KnowledgeGraph`.

- ``nations`` (Kemp et al. 2006): 14 countries, 55 relations (treaties, trade, alliances...),
  1,592 / 199 / 201 train / validation / test triples.
- ``kinships`` (Denham 1973; Kemp et al. 2006): 104 people of the Alyawarra, 25 kinship terms,
  8,544 / 1,068 / 1,074.
- ``umls`` (McCray 2003): 135 medical concepts, 46 relations, 5,216 / 652 / 661.

The splits are the ones pykeen (and the literature since Kok & Domingos 2007 / Lin et al. 2018)
uses. Entity and relation ids are the positions of their names in sorted order. No TensorFlow.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from kerasdl.data import sources
from kerasdl.registry import DATASETS

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class KnowledgeGraph:
    """Triples as int32 arrays ``[N, 3]`` of (head, relation, tail) ids, per split."""

    name: str
    entities: tuple[str, ...]
    relations: tuple[str, ...]
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def split(self, name: str) -> np.ndarray:
        if name not in SPLITS:
            raise ValueError(f"Unknown split {name!r}; valid splits: {', '.join(SPLITS)}.")
        return getattr(self, name)

    def all_triples(self) -> np.ndarray:
        """Every known true triple (train + valid + test): the filter of filtered ranking."""
        return np.concatenate([self.train, self.valid, self.test])


def _read_triples(path) -> list[tuple[str, str, str]]:
    triples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise sources.DataFileError(f"{path}:{number}: expected 3 tab-separated fields "
                                        f"(head, relation, tail), got {len(parts)}")
        triples.append(tuple(parts))
    if not triples:
        raise sources.DataFileError(f"{path} holds no triples")
    return triples


@functools.lru_cache(maxsize=None)
def load_knowledge_graph(name: str) -> KnowledgeGraph:
    """One of the pykeen KGs by name (fetched on first use); arrays are read-only."""
    paths = sources.require(name)
    raw = {split: _read_triples(paths[f"{split}.txt"]) for split in SPLITS}
    every = [t for split in SPLITS for t in raw[split]]
    entities = tuple(sorted({t[0] for t in every} | {t[2] for t in every}))
    relations = tuple(sorted({t[1] for t in every}))
    entity_id = {e: i for i, e in enumerate(entities)}
    relation_id = {r: i for i, r in enumerate(relations)}
    arrays = {}
    for split, triples in raw.items():
        a = np.asarray([(entity_id[h], relation_id[r], entity_id[t]) for h, r, t in triples], np.int32)
        a.flags.writeable = False
        arrays[split] = a
    return KnowledgeGraph(name, entities, relations, **arrays)


_SOURCE = "PyPI pykeen==1.11.1 (pykeen/datasets/{}/{{train,valid,test}}.txt)"
for _name, _counts in {"nations": (14, 55, 1592, 199, 201), "kinships": (104, 25, 8544, 1068, 1074),
                       "umls": (135, 46, 5216, 652, 661)}.items():
    DATASETS.register(
        _name, tags=("graph", "knowledge_graph"), num_entities=_counts[0], num_relations=_counts[1],
        num_examples=dict(zip(SPLITS, _counts[2:])), source=_SOURCE.format(_name),
        license="public benchmark (redistributed by pykeen, MIT)",
    )(functools.partial(load_knowledge_graph, _name))


def reciprocal_queries(triples: np.ndarray, num_relations: int) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of each triple as a tail query: ``(h, r) -> t`` and ``(t, r + R) -> h``
    (Lacroix et al. 2018), so one 1-vs-all scorer answers head and tail prediction.
    Returns (queries int32 [2N, 2], targets int32 [2N]); the first N are the tail queries."""
    triples = np.asarray(triples, np.int32)
    if triples.ndim != 2 or triples.shape[1] != 3:
        raise ValueError(f"triples must be [N, 3] (head, relation, tail), got shape {triples.shape}")
    h, r, t = triples.T
    queries = np.concatenate([np.stack([h, r], 1), np.stack([t, r + num_relations], 1)])
    return queries.astype(np.int32), np.concatenate([t, h]).astype(np.int32)


def relational_edges(triples: np.ndarray, num_entities: int, num_relations: int,
                     normalization: str = "node"):
    """The R-GCN message graph of ``triples``: an edge h -> t of type r and t -> h of type r + R
    per triple. Edge weights 1/c: ``normalization="relation"`` takes c_{i,r}, the number of
    type-r edges into node i (the paper's choice), ``"node"`` c_i, all edges into i (the paper
    allows any fixed c; on a dense KG such as Nations, with ~40 edge types per node, per-relation
    means summed over types swamp the self-connection).
    Returns (sources, relations, targets) int32 [2N] and weights float32 [2N]."""
    if normalization not in ("node", "relation"):
        raise ValueError(f"normalization must be 'node' or 'relation', got {normalization!r}")
    queries, targets = reciprocal_queries(triples, num_relations)
    sources, relations = queries.T
    if len(sources) and (max(sources.max(), targets.max()) >= num_entities or sources.min() < 0):
        raise ValueError(f"entity ids must be in [0, {num_entities})")
    key = targets.astype(np.int64)
    if normalization == "relation":
        key = key * (2 * num_relations) + relations
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return sources, relations, targets, (1.0 / counts[inverse]).astype(np.float32)


def evaluate_link_prediction(score_queries, graph: KnowledgeGraph, split: str = "test",
                             ks=(1, 3, 10)) -> dict[str, float]:
    """Filtered MRR / mean rank / hits@k of ``split``, both directions (head and tail queries,
    reciprocal form), filtering every known triple (:mod:`kerasdl.metrics.ranking`).

    ``score_queries(queries int32 [Q, 2]) -> scores [Q, num_entities]``.
    """
    from kerasdl.metrics.ranking import answer_sets, filtered_ranks, rank_summary

    known = answer_sets(*reciprocal_queries(graph.all_triples(), graph.num_relations))
    queries, targets = reciprocal_queries(graph.split(split), graph.num_relations)
    scores = np.asarray(score_queries(queries))
    if scores.shape != (len(queries), graph.num_entities):
        raise ValueError(f"score_queries returned shape {scores.shape}, expected "
                         f"{(len(queries), graph.num_entities)}")
    return rank_summary(filtered_ranks(scores, queries, targets, known), ks)


def popularity_scorer(graph: KnowledgeGraph):
    """The non-learned baseline: score(e | entity, r) = how often e answers relation r (reciprocal
    relations included) in the training triples, ties broken by e's training degree."""
    queries, targets = reciprocal_queries(graph.train, graph.num_relations)
    counts = np.zeros((2 * graph.num_relations, graph.num_entities))
    np.add.at(counts, (queries[:, 1], targets), 1.0)
    degree = np.bincount(graph.train[:, [0, 2]].ravel(), minlength=graph.num_entities)
    table = counts + degree / (degree.max() + 1.0)  # the degree term is < 1: only breaks ties
    return lambda q: table[np.asarray(q)[:, 1]]
