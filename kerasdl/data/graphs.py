"""Registered graph datasets: ``load_dataset("karate_club")``, ``"drosophila"``, ``"mutag"``.

All three are real graphs, returned as :class:`kerasdl.graph.Graph` objects (numpy; no TensorFlow):

- ``karate_club``: Zachary's karate club (1977) from networkx: 34 members, 78 friendships (listed
  in both directions, with Zachary's interaction counts as ``edge_weights``), each member's
  faction after the split (0 = Mr. Hi's, 1 = the Officer's). The classic semi-supervised split
  labels one node per faction, its leader: nodes 0 (Mr. Hi) and 33 (the Officer), ``info["labelled_nodes"]``.
- ``drosophila``: the larval *Drosophila* mushroom-body connectome (Eichler et al., 2017) as
  shipped by graspologic 3.4.4: directed synapse-count adjacency of the left (209 neurons,
  default) or right (213) hemisphere, 4 cell types: I (input), K (Kenyon cells), O (output),
  P (projection neurons). No self-loops are kept.
- ``mutag``: MUTAG (Debnath et al., 1991; TU format) as shipped by grakel 0.1.11: 188 nitro
  compounds, atoms as nodes (7 types), bonds as edges in both directions (4 types), label 1 =
  mutagenic on *Salmonella typhimurium* (125) and 0 = not (63).

No tfds twins exist; the files come from the registry packages via :mod:`kerasdl.data.sources`.
"""
from __future__ import annotations

import functools

import numpy as np

from kerasdl.data import sources
from kerasdl.graph.edges import Graph, edges_from_adjacency
from kerasdl.registry import DATASETS

KARATE_FACTIONS = ["Mr. Hi", "Officer"]
DROSOPHILA_CELL_TYPES = ["I", "K", "O", "P"]  # input, Kenyon, output, projection neurons
HEMISPHERES = ("left", "right")
MUTAG_ATOMS = ["C", "N", "O", "F", "I", "Cl", "Br"]
MUTAG_BONDS = ["aromatic", "single", "double", "triple"]


@DATASETS.register(
    "karate_club", tags=("graph", "node_classification"),
    num_classes=2, class_names=KARATE_FACTIONS, num_examples={"nodes": 34, "edges": 156},
    labelled_nodes=[0, 33],
    source="networkx.karate_club_graph() (W. Zachary, 1977): 34 members, 78 friendships, "
           "faction after the split ('club' attribute)",
    license="networkx: BSD-3-Clause; data published in J. Anthropological Research 33(4), 1977",
)
def karate_club() -> Graph:
    """Zachary's karate club, undirected (both directions listed), labels = factions."""
    import networkx as nx

    g = nx.karate_club_graph()
    labels = np.array([KARATE_FACTIONS.index("Mr. Hi" if g.nodes[v]["club"] == "Mr. Hi"
                                             else "Officer") for v in g.nodes], np.int32)
    weights = nx.to_numpy_array(g, nodelist=range(34), weight="weight")
    edges, w = edges_from_adjacency(weights)
    return Graph(34, edges, node_labels=labels, edge_weights=w)


@functools.lru_cache(maxsize=2)
def _drosophila(hemisphere: str):
    files = sources.require("drosophila")
    try:
        adjacency = np.loadtxt(files[f"{hemisphere}_adjacency.csv"], dtype=np.float64)
        names = files[f"{hemisphere}_cell_labels.csv"].read_text().split()
    except ValueError as e:
        raise sources.DataFileError(f"drosophila {hemisphere} files are unreadable: {e}") from e
    np.fill_diagonal(adjacency, 0.0)
    edges, weights = edges_from_adjacency(adjacency)
    labels = np.array([DROSOPHILA_CELL_TYPES.index(n) for n in names], np.int32)
    return Graph(len(labels), edges, node_labels=labels, edge_weights=weights)


@DATASETS.register(
    "drosophila", tags=("graph", "node_classification"),
    num_classes=4, class_names=DROSOPHILA_CELL_TYPES,
    num_examples={"left": {"nodes": 209, "edges": 7_425}, "right": {"nodes": 213, "edges": 7_536}},
    source="PyPI graspologic 3.4.4 datasets/drosophila (larval mushroom-body connectome, "
           "Eichler et al., Nature 2017): directed synapse counts, 4 cell types",
    license="graspologic: MIT; connectome data from Eichler et al. 2017 (research use)",
)
def drosophila(hemisphere: str = "left") -> Graph:
    """One hemisphere's connectome: directed edges (pre -> post), synapse counts as weights."""
    if hemisphere not in HEMISPHERES:
        raise ValueError(f"unknown hemisphere {hemisphere!r}; valid: {', '.join(HEMISPHERES)}")
    g = _drosophila(hemisphere)
    return Graph(g.num_nodes, g.edges.copy(), node_labels=g.node_labels.copy(),
                 edge_weights=g.edge_weights.copy())


def _read_ints(path, separator=None):
    text = path.read_text().replace(",", " ") if separator else path.read_text()
    return np.array(text.split(), dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _mutag() -> tuple:
    files = sources.require("mutag")
    try:
        pairs = _read_ints(files["MUTAG_A.txt"], ",").reshape(-1, 2) - 1
        graph_of_node = _read_ints(files["MUTAG_graph_indicator.txt"]) - 1
        atoms = _read_ints(files["MUTAG_node_labels.txt"])
        bonds = _read_ints(files["MUTAG_edge_labels.txt"])
        labels = _read_ints(files["MUTAG_graph_labels.txt"])
    except ValueError as e:
        raise sources.DataFileError(f"MUTAG files are unreadable: {e}") from e
    starts = np.searchsorted(graph_of_node, np.arange(len(labels) + 1))
    graph_of_edge = graph_of_node[pairs[:, 0]]
    graphs = []
    for g, label in enumerate(labels):
        lo, hi = starts[g], starts[g + 1]
        mine = graph_of_edge == g
        graphs.append(Graph(int(hi - lo), pairs[mine] - lo, node_labels=atoms[lo:hi].astype(np.int32),
                            edge_labels=bonds[mine].astype(np.int32), graph_label=int(label == 1)))
    return tuple(graphs)


@DATASETS.register(
    "mutag", tags=("graph", "graph_classification"),
    num_classes=2, class_names=["non-mutagenic", "mutagenic"], num_examples={"graphs": 188},
    atom_types=MUTAG_ATOMS, bond_types=MUTAG_BONDS,
    source="PyPI grakel 0.1.11 grakel/tests/data/MUTAG (TU Dortmund graph-kernel benchmark "
           "format; Debnath et al., J. Med. Chem. 1991)",
    license="grakel: BSD-3-Clause; TU benchmark data for research use",
)
def mutag() -> list[Graph]:
    """188 molecule graphs: node_labels = atom types, edge_labels = bond types, graph_label."""
    return [Graph(g.num_nodes, g.edges.copy(), node_labels=g.node_labels.copy(),
                  edge_labels=g.edge_labels.copy(), graph_label=g.graph_label) for g in _mutag()]
