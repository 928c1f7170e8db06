"""The random-walk importance sampler: visit frequencies converge to personalised PageRank."""
import networkx as nx
import numpy as np
import pytest

from kerasdl.data.random_walks import (CSRGraph, bipartite_graph, bipartite_importance,
                                       personalized_pagerank, ranked_band, top_visited,
                                       visit_counts)


def karate():
    edges = np.array(nx.karate_club_graph().edges())
    return CSRGraph.from_edges(edges[:, 0], edges[:, 1], 34)


def test_exact_personalized_pagerank_matches_networkx():
    graph = karate()
    for source in (0, 33):
        expected = nx.pagerank(nx.karate_club_graph(), alpha=0.7, personalization={source: 1},
                               weight=None, tol=1e-13)
        np.testing.assert_allclose(personalized_pagerank(graph, source, 0.3),
                                   [expected[v] for v in range(34)], atol=1e-9)


@pytest.mark.parametrize("restart", [0.3, 0.6])
def test_visit_frequencies_converge_to_personalized_pagerank(restart):
    graph = karate()
    counts = visit_counts(graph, [0, 16], num_walks=40_000, restart_prob=restart, seed=3)
    for row, source in enumerate((0, 16)):
        exact = personalized_pagerank(graph, source, restart)
        frequencies = counts[row] / counts[row].sum()
        # multinomial noise: ~sqrt(pi / n_visits); n_visits ~ 40k / restart
        assert np.abs(frequencies - exact).max() < 4 * np.sqrt(exact.max() * restart / 40_000)
        # and the expected visits per walk are pi / alpha (the identity the sampler relies on)
        np.testing.assert_allclose(counts[row].sum() / 40_000, 1 / restart, rtol=0.03)


def test_bipartite_walks_and_top_visited_neighbourhoods():
    # users 0-2, items 0-3; user 0 likes items 0, 1; user 1 items 1, 2; user 2 item 3 alone
    users, items = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 2, 3])
    graph = bipartite_graph(users, items, 3, 4)
    assert graph.degree.tolist() == [2, 2, 1, 1, 2, 1, 1]
    exact = personalized_pagerank(graph, 3 + 0, 0.3)[3:]  # from item 0, over items
    counts = visit_counts(graph, [3], num_walks=30_000, restart_prob=0.3, seed=0)[:, 3:]
    np.testing.assert_allclose(counts[0] / counts[0].sum(), exact / exact.sum(), atol=0.01)
    tables = bipartite_importance(users, items, 3, 4, num_neighbors=2, num_walks=2000,
                                  restart_prob=0.3)
    # item 0 reaches item 1 (via user 0) most, then item 2; item 3 never leaves its component
    assert tables["item_neighbors"][0].tolist() == [1, 2]
    assert tables["item_weights"][0].sum() == pytest.approx(1.0)
    # item 3 reaches no other item (itself excluded): no neighbours, weights 0 (pools to 0)
    assert tables["item_weights"][3].tolist() == [0.0, 0.0]
    assert tables["user_neighbors"][2].tolist() == [3, 0] and tables["user_weights"][2].tolist() == [1, 0]


def test_top_visited_and_ranked_band():
    counts = np.array([[5.0, 0, 3, 9, 1], [0, 0, 0, 0, 0]])
    neighbors, weights = top_visited(counts, 3, exclude=np.array([3, 0]))
    assert neighbors.tolist() == [[0, 2, 4], [0, 0, 0]]
    np.testing.assert_allclose(weights, [[5 / 9, 3 / 9, 1 / 9], [0, 0, 0]])
    band = ranked_band(counts, [np.array([3]), np.array([], int)], (1, 3))
    assert band[0].tolist() == [2, 4]  # ranks: 0 (5), 2 (3), 4 (1), 1 (0); 3 excluded
    assert len(set(band[1].tolist())) == 2
    with pytest.raises(ValueError, match="band"):
        ranked_band(counts, [np.array([3]), np.array([])], (3, 9))


def test_sampler_rejects_bad_arguments():
    graph = karate()
    with pytest.raises(ValueError, match="restart_prob"):
        visit_counts(graph, [0], num_walks=10, restart_prob=1.0)
    with pytest.raises(ValueError, match="sources"):
        visit_counts(graph, [34], num_walks=10, restart_prob=0.5)
    with pytest.raises(ValueError, match="item ids"):
        bipartite_graph([0], [5], 1, 5)
