"""Graph layers against independent dense numpy computations of each paper's formula; padding,
batching, large graphs, XLA and TFLite."""
import numpy as np
import pytest
import tensorflow as tf

from kerasdl import graph as kg
from kerasdl.layers.graph import ChebConv, GCNConv, GINConv, GraphReadout, segment_pool
from kerasdl.layers.graph_attention import GATConv
from kerasdl.layers.graph_sage import SAGEConv


def random_graph(rng, n=9, p=0.35, features=5):
    a = np.triu(rng.random((n, n)) < p, 1)
    a = (a | a.T).astype(np.float64)
    a[n - 1] = a[:, n - 1] = 0  # one isolated node
    return rng.normal(size=(n, features)).astype("float32"), kg.edges_from_adjacency(a)[0], a


def leaky(v, slope=0.2):
    return np.where(v > 0, v, slope * v)


def with_padding(edges, rows=3):
    return np.concatenate([edges, -np.ones((rows, 2), np.int32)])


def test_gcn_matches_renormalised_adjacency():
    x, edges, a = random_graph(np.random.default_rng(0))
    layer = GCNConv(4, activation="relu")
    out = layer(x, with_padding(edges)).numpy()
    a_tilde = a + np.eye(len(a))
    d = np.diag(a_tilde.sum(1) ** -0.5)
    w, b = (v.numpy() for v in layer.weights)
    np.testing.assert_allclose(out, np.maximum(d @ a_tilde @ d @ x @ w + b, 0), atol=1e-5)


def test_gcn_on_a_directed_edge_list_uses_in_degrees():
    x = np.eye(3, dtype="float32")
    layer = GCNConv(3, use_bias=False, kernel_initializer="identity")
    out = layer(x, np.array([[0, 2], [1, 2]])).numpy()  # node 2 hears 0 and 1
    a_in = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1]], float)  # rows: targets, A + I
    d = np.diag(a_in.sum(1) ** -0.5)
    np.testing.assert_allclose(out, d @ a_in @ d, atol=1e-6)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_chebconv_matches_chebyshev_recursion(order):
    x, edges, a = random_graph(np.random.default_rng(1))
    layer = ChebConv(3, order=order, lambda_max=1.7)
    out = layer(x, with_padding(edges)).numpy()
    deg = a.sum(1)
    inv = np.where(deg > 0, deg, 1) ** -0.5 * (deg > 0)
    lap_sym = np.diag((deg > 0).astype(float)) - inv[:, None] * a * inv[None, :]
    scaled = 2 * lap_sym / 1.7 - np.eye(len(a))
    terms = [x.astype(float), scaled @ x]
    while len(terms) < order + 1:
        terms.append(2 * scaled @ terms[-1] - terms[-2])
    w, b = (v.numpy() for v in layer.weights)
    expected = np.concatenate(terms[:order + 1], 1) @ w + b
    np.testing.assert_allclose(out, expected, atol=1e-4)
    # the same filter as kerasdl.graph's numpy Chebyshev filter on each output unit's weights
    f = x.shape[1]
    thetas = w.reshape(order + 1, f, 3)
    numpy_filter = sum(kg.chebyshev_filter(kg.scaled_laplacian(kg.laplacian(a, "symmetric"), 1.7),
                                           x[:, [i]], thetas[:, i, 0]) for i in range(f))
    np.testing.assert_allclose(out[:, :1] - b[0], numpy_filter, atol=1e-4)


@pytest.mark.parametrize("concat", [True, False])
def test_gat_matches_dense_attention(concat):
    x, edges, a = random_graph(np.random.default_rng(2))
    layer = GATConv(3, heads=2, concat_heads=concat)
    out = layer(x, with_padding(edges)).numpy()
    w, a_src, a_dst, b = (v.numpy() for v in layer.weights)
    z = (x @ w).reshape(len(x), 2, 3)
    neighbours = (a.T + np.eye(len(a))) > 0  # [i, j]: j -> i, self included
    heads = []
    for m in range(2):
        e = leaky((z[:, m] @ a_dst[m])[:, None] + (z[:, m] @ a_src[m])[None, :])
        e = np.where(neighbours, e, -np.inf)
        alpha = np.exp(e - e.max(1, keepdims=True))
        alpha /= alpha.sum(1, keepdims=True)
        heads.append(alpha @ z[:, m])
    expected = np.concatenate(heads, 1) if concat else np.mean(heads, 0)
    np.testing.assert_allclose(out, expected + b, atol=1e-5)
    source, target, alpha = layer.attention_weights(x, edges)
    sums = np.zeros((len(x), 2))
    np.add.at(sums, target.numpy(), alpha.numpy())
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)  # softmax over each node's neighbours


def numpy_lstm(seq, kernel, recurrent, bias):
    units = recurrent.shape[0]
    h, c = np.zeros(units), np.zeros(units)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for step in seq:
        i, f, g, o = np.split(step @ kernel + h @ recurrent + bias, 4)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
    return h


@pytest.mark.parametrize("aggregator", ["mean", "max", "lstm"])
def test_sage_matches_dense_aggregators(aggregator):
    x, edges, a = random_graph(np.random.default_rng(3))
    layer = SAGEConv(4, aggregator=aggregator, aggregator_units=6, normalize=True)
    out = layer(x, with_padding(edges)).numpy()
    rows = []
    for i in range(len(x)):
        nbrs = np.flatnonzero(a[:, i])  # sources of edges into i, in edge-list order
        if aggregator == "mean":
            h = x[nbrs].mean(0) if len(nbrs) else np.zeros(x.shape[1])
        elif aggregator == "max":
            pooled = np.maximum(x[nbrs] @ layer.pool.kernel.numpy() + layer.pool.bias.numpy(), 0)
            h = pooled.max(0) if len(nbrs) else np.zeros(6)
        else:
            cell = layer.lstm.cell
            h = numpy_lstm(x[nbrs], cell.kernel.numpy(), cell.recurrent_kernel.numpy(),
                           cell.bias.numpy())
        rows.append(np.concatenate([x[i], h]))
    y = np.stack(rows) @ layer.kernel.numpy() + layer.bias.numpy()
    y /= np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(out, y, atol=1e-5)


def test_sage_lstm_reads_at_most_max_neighbors():
    x = np.arange(5, dtype="float32")[:, None]
    star = np.array([[s, 0] for s in (1, 2, 3, 4)])
    layer = SAGEConv(2, aggregator="lstm", max_neighbors=2)
    states, mask = layer._neighbour_sequences(tf.constant(x), *(tf.constant(c, tf.int32) for c in star.T), 5)
    assert states.numpy()[0, :, 0].tolist() == [1.0, 2.0] and mask.numpy().sum(1).tolist() == [2, 0, 0, 0, 0]


def test_gin_and_readouts():
    x, edges, a = random_graph(np.random.default_rng(4))
    layer = GINConv((6, 3), epsilon=0.5)
    out = layer(x, edges).numpy()
    h = 1.5 * x + a.T @ x
    for dense in layer.mlp:
        h = np.maximum(h @ dense.kernel.numpy() + dense.bias.numpy(), 0)
    np.testing.assert_allclose(out, h, atol=1e-5)
    states = np.random.default_rng(5).normal(size=(3, 4, 2)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], "float32")
    m = mask[..., None] > 0
    expected = {"sum": (states * m).sum(1), "max": np.where(m, states, -np.inf).max(1),
                "mean": (states * m).sum(1) / np.maximum(m.sum(1), 1)}
    expected["max"][2] = 0.0  # an empty graph reads 0
    for mode, value in expected.items():
        np.testing.assert_allclose(GraphReadout(mode)(states, mask).numpy(), value, atol=1e-6)
    flat = segment_pool(tf.constant(states.reshape(12, 2)), tf.constant([0, 0, -1, -1, 1, 1, 1, 1,
                                                                          -1, -1, -1, -1]), 3)
    np.testing.assert_allclose(flat.numpy(), expected["sum"], atol=1e-6)
    with pytest.raises(ValueError, match="unknown pooling 'median'"):
        GraphReadout("median")


@pytest.mark.parametrize("make", [lambda: GCNConv(3), lambda: ChebConv(3, order=2),
                                  lambda: GATConv(2, heads=2), lambda: SAGEConv(3, "max"),
                                  lambda: SAGEConv(3, "lstm"), lambda: GINConv((3,))],
                         ids=["gcn", "cheb", "gat", "sage_max", "sage_lstm", "gin"])
def test_padded_batch_equals_each_graph_alone(make):
    rng = np.random.default_rng(6)
    graphs = [random_graph(rng, n=n)[:2] for n in (5, 9, 7)]
    batch = kg.pad_graphs(graphs, num_edges=40)
    layer = make()
    out = layer(batch.node_features, batch.edges).numpy()
    for b, (x, edges) in enumerate(graphs):
        np.testing.assert_allclose(out[b, :len(x)], layer(x, edges).numpy(), atol=1e-5)


def test_forward_pass_on_a_graph_with_100k_edges():
    rng = np.random.default_rng(7)
    n, e = 20_000, 100_000
    edges = rng.integers(0, n, (e, 2)).astype("int32")
    x = rng.normal(size=(n, 16)).astype("float32")
    for layer in (GCNConv(8), ChebConv(8, order=2), GATConv(4, heads=2), SAGEConv(8), GINConv((8,))):
        eager = layer(x, edges)
        assert eager.shape == (n, 8) and np.isfinite(eager.numpy()).all()
    compiled = tf.function(lambda a, b: layer(a, b), jit_compile=True)(x, edges)  # GIN under XLA
    np.testing.assert_allclose(compiled.numpy(), eager.numpy(), atol=1e-4)


def test_tflite_converts_the_other_variants_with_builtins():
    """SAGE max/LSTM, mean-head GAT and mean/max readouts (the registered models cover GCN, Cheb,
    GAT-concat, SAGE-mean, GIN and sum readout in the contract): built-in ops, parity."""
    import keras

    from kerasdl.export import check_builtin_ops, convert, parity
    from kerasdl.models.graph.inputs import graph_inputs

    x, edges, mask = graph_inputs(4, node_mask=True)
    h = SAGEConv(6, "lstm", max_neighbors=4)(x, edges)
    h = GATConv(3, heads=2, concat_heads=False)(SAGEConv(5, "max")(h, edges), edges)
    model = keras.Model([x, edges, mask], keras.layers.Concatenate()(
        [GraphReadout("mean")(h, mask), GraphReadout("max")(h, mask)]))
    rng = np.random.default_rng(8)
    batch = kg.pad_graphs([random_graph(rng, n, features=4)[:2] for n in (6, 9)], num_edges=30)
    flatbuffer = convert(model)
    ops = check_builtin_ops(flatbuffer)
    assert {"UNSORTED_SEGMENT_MAX", "SCATTER_ND", "TOPK_V2"} <= set(ops) and "WHILE" not in ops
    assert parity(model, flatbuffer, batch.inputs(with_mask=True))["max_abs_error"] <= 1e-4


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match=r"takes x \[N, F\] with edges \[E, 2\]"):
        GCNConv(2)(np.zeros((3, 2), "float32"), np.zeros((3, 3), "int32"))
    with pytest.raises(ValueError, match="unknown aggregator 'sum'"):
        SAGEConv(2, "sum")
    with pytest.raises(ValueError, match="units must be a positive integer"):
        GCNConv(0)
