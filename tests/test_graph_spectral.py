"""Laplacians, the graph Fourier transform and spectral filters against closed forms and networkx;
edge lists, padding and the GraphSAGE neighbour sampler."""
import networkx as nx
import numpy as np
import pytest

from kerasdl import graph as kg
from kerasdl.graph.laplacian import largest_eigenvalue


def nx_edges(g):
    return kg.to_undirected(np.array(list(g.edges()), np.int32), g.number_of_nodes())


def adjacency(g):
    return kg.adjacency_matrix(nx_edges(g), g.number_of_nodes())


@pytest.mark.parametrize("n", [5, 8, 13])
def test_cycle_and_path_spectra_match_closed_forms(n):
    """C_n: 2 - 2 cos(2 pi k / n); P_n: 2 - 2 cos(pi k / n), k = 0..n-1."""
    cycle, _ = kg.fourier_basis(kg.laplacian(adjacency(nx.cycle_graph(n))))
    path, _ = kg.fourier_basis(kg.laplacian(adjacency(nx.path_graph(n))))
    k = np.arange(n)
    np.testing.assert_allclose(cycle, np.sort(2 - 2 * np.cos(2 * np.pi * k / n)), atol=1e-10)
    np.testing.assert_allclose(path, np.sort(2 - 2 * np.cos(np.pi * k / n)), atol=1e-10)


def test_laplacians_match_networkx_on_karate_club():
    g = nx.karate_club_graph()
    a = adjacency(g)
    order = range(g.number_of_nodes())
    np.testing.assert_allclose(kg.laplacian(a), nx.laplacian_matrix(g, order, weight=None).toarray())
    np.testing.assert_allclose(kg.laplacian(a, "symmetric"),
                               nx.normalized_laplacian_matrix(g, order, weight=None).toarray(),
                               atol=1e-12)
    lap_rw = kg.laplacian(a, "random_walk")
    np.testing.assert_allclose(lap_rw, np.diag(1 / kg.degrees(a)) @ kg.laplacian(a), atol=1e-12)
    # L_rw = D^-1/2 L_sym D^1/2 is similar to L_sym: same spectrum
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(lap_rw).real),
                               kg.fourier_basis(kg.laplacian(a, "symmetric"))[0], atol=1e-10)


def test_isolated_node_and_weights():
    a = kg.adjacency_matrix([[0, 1], [1, 0]], 3, weights=[2.0, 2.0])
    np.testing.assert_allclose(kg.laplacian(a), [[2, -2, 0], [-2, 2, 0], [0, 0, 0]])
    np.testing.assert_allclose(kg.laplacian(a, "symmetric"), [[1, -1, 0], [-1, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="undirected graph"):
        kg.laplacian(kg.adjacency_matrix([[0, 1]], 2))
    with pytest.raises(ValueError, match="unknown Laplacian kind 'normalized'"):
        kg.laplacian(a, "normalized")


def test_fourier_transform_round_trip_orthonormal_and_ordered():
    rng = np.random.default_rng(0)
    g = nx.connected_watts_strogatz_graph(30, 4, 0.3, seed=0)
    lap = kg.laplacian(adjacency(g))
    values, u = kg.fourier_basis(lap)
    assert np.all(np.diff(values) >= -1e-12) and abs(values[0]) < 1e-10  # ascending, lambda_1 = 0
    np.testing.assert_allclose(u.T @ u, np.eye(30), atol=1e-10)
    np.testing.assert_allclose(u @ np.diag(values) @ u.T, lap, atol=1e-10)
    x = rng.normal(size=(30, 3))
    x_hat = kg.graph_fourier_transform(x, u)
    np.testing.assert_allclose(kg.inverse_graph_fourier_transform(x_hat, u), x, atol=1e-10)
    np.testing.assert_allclose(np.sum(x_hat ** 2), np.sum(x ** 2))  # Parseval
    # the lowest mode of a connected graph is constant: x^_1 is sqrt(n) times the mean
    np.testing.assert_allclose(abs(x_hat[0]), np.sqrt(30) * abs(x.mean(0)), atol=1e-10)
    down, u_down = kg.fourier_basis(lap, descending=True)  # the curriculum's order
    np.testing.assert_allclose(down, values[::-1])
    np.testing.assert_allclose(kg.inverse_graph_fourier_transform(
        kg.graph_fourier_transform(x, u_down), u_down), x, atol=1e-10)


def test_polynomial_filter_equals_spectral_form():
    """Curriculum: U diag(sum_k alpha_k Lambda^k) U^T x = sum_k alpha_k L^k x."""
    rng = np.random.default_rng(1)
    lap = kg.laplacian(adjacency(nx.karate_club_graph()))
    x, alphas = rng.normal(size=(34, 2)), [0.5, -0.3, 0.05, 0.01]
    values, u = kg.fourier_basis(lap)
    spectral = kg.spectral_filter(x, values, u, lambda lam: np.polyval(alphas[::-1], lam))
    dense = sum(a * np.linalg.matrix_power(lap, k) @ x for k, a in enumerate(alphas))
    np.testing.assert_allclose(kg.polynomial_filter(lap, x, alphas), dense, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(spectral, dense, rtol=1e-8, atol=1e-8)
    sparse_lap = kg.laplacian(adjacency(nx.karate_club_graph()), dense=False)
    np.testing.assert_allclose(kg.polynomial_filter(sparse_lap, x, alphas), dense, atol=1e-9)


def test_chebyshev_filter_and_scaled_spectrum():
    rng = np.random.default_rng(2)
    lap = kg.laplacian(adjacency(nx.karate_club_graph()), "symmetric")
    lam_max = largest_eigenvalue(lap)
    assert 1.0 < lam_max <= 2.0  # L_sym's spectrum lies in [0, 2]
    scaled = kg.scaled_laplacian(lap)
    values, u = kg.fourier_basis(scaled)
    assert values[0] >= -1 - 1e-10 and abs(values[-1] - 1.0) < 1e-10
    x, thetas = rng.normal(size=34), [0.3, -0.2, 0.5, 0.1]
    spectral = kg.spectral_filter(x, values, u,
                                  lambda lam: np.polynomial.chebyshev.chebval(lam, thetas))
    np.testing.assert_allclose(kg.chebyshev_filter(scaled, x, thetas), spectral, atol=1e-10)
    np.testing.assert_allclose(kg.scaled_laplacian(lap, 2.0), lap - np.eye(34))
    big = kg.laplacian(adjacency(nx.cycle_graph(600)), dense=False)  # Lanczos path
    assert abs(largest_eigenvalue(big) - 4.0) < 1e-6


def test_edge_list_helpers_and_errors():
    edges = kg.to_undirected([[0, 1], [1, 0], [1, 2], [2, 2]], 3)
    assert edges.tolist() == [[0, 1], [1, 0], [1, 2], [2, 1]]
    round_trip, weights = kg.edges_from_adjacency(kg.adjacency_matrix(edges, 3))
    assert round_trip.tolist() == edges.tolist() and weights.tolist() == [1.0] * 4
    with pytest.raises(ValueError, match=r"edge 1 = \[1, 3\] has a node id outside \[0, 3\)"):
        kg.check_edges([[0, 1], [1, 3]], 3)
    with pytest.raises(ValueError, match=r"shape \[E, 2\]"):
        kg.check_edges([[0, 1, 2]], 3)
    with pytest.raises(ValueError, match="integer node ids"):
        kg.check_edges(np.array([[0.0, 1.0]]), 3)


def test_pad_graphs():
    rng = np.random.default_rng(3)
    small = (rng.normal(size=(2, 4)), [[0, 1], [1, 0]])
    large = (rng.normal(size=(3, 4)), [[0, 1], [1, 2], [2, 0]])
    batch = kg.pad_graphs([small, large], num_edges=4)
    assert batch.node_features.shape == (2, 3, 4) and batch.edges.shape == (2, 4, 2)
    assert batch.node_mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert batch.edges[0, 2:].tolist() == [[-1, -1], [-1, -1]]
    np.testing.assert_array_equal(batch.node_features[0, 2], 0)
    assert len(batch.inputs(with_mask=True)) == 3
    with pytest.raises(ValueError, match="graph 1 has 3 nodes and 3 edges, more than"):
        kg.pad_graphs([small, large], num_nodes=2)
    with pytest.raises(ValueError, match="one F for all graphs"):
        kg.pad_graphs([small, (np.zeros((2, 5)), [])])


def test_neighbor_sampler_respects_fanouts_and_graph():
    g = nx.barabasi_albert_graph(300, 4, seed=0)
    edges = nx_edges(g)
    sampler = kg.NeighborSampler(edges, 300, fanouts=(5, 3), batch_size=8, seed=0)
    known = set(map(tuple, edges.tolist()))
    seeds = np.array([0, 17, 42, 99, 250])
    sub = sampler.sample(seeds)
    assert sub.num_seeds == 5 and sub.nodes[:5].tolist() == sorted(seeds.tolist())
    assert sub.nodes.shape == (sampler.max_nodes,) == (8 * (1 + 5 + 15),)
    real = sub.edges[sub.edges[:, 0] >= 0]
    n = int(sub.node_mask.sum())
    assert len(set(sub.nodes[:n].tolist())) == n  # every node once
    for s, t in real:  # each sampled edge is a real edge of the graph
        assert (sub.nodes[s], sub.nodes[t]) in known
    into_seed = np.bincount(real[:, 1], minlength=n)[:5]
    degree = np.array([g.degree(int(v)) for v in sub.nodes[:5]])
    np.testing.assert_array_equal(into_seed, np.minimum(degree, 5))  # fanout, or all neighbours
    assert into_seed.max() <= 5 and np.bincount(real[:, 1], minlength=n)[5:].max() <= 3
    x, e = sub.inputs(np.eye(300))
    assert x.shape == (1, sampler.max_nodes, 300) and e.shape == (1, sampler.max_edges, 2)
    covered = np.concatenate([b.nodes[:b.num_seeds] for b in sampler.batches(np.arange(300))])
    assert sorted(covered.tolist()) == list(range(300))
    with pytest.raises(ValueError, match="need 1..8 distinct seed nodes"):
        sampler.sample(np.arange(9))
    with pytest.raises(ValueError, match="fanouts must be positive"):
        kg.NeighborSampler(edges, 300, fanouts=())
