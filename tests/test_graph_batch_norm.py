"""Batch norm over the real nodes of a padded graph batch (GINConv(batch_norm=True)): Keras'
BatchNormalization with the node mask against numpy masked moments and against the same norm on
the unpadded nodes; padded batch = the disjoint union of its graphs; TFLite."""
import keras
import numpy as np
import pytest

from kerasdl import graph as kg
from kerasdl.layers.graph import GINConv

MOMENTUM, EPS = 0.9, 1e-5


def padded_states(rng, sizes=(3, 7, 5), features=4, nodes=8):
    """[B, N, F] states with large junk in the padding (it must not matter) and the [B, N] mask."""
    x = rng.normal(2.0, 3.0, (len(sizes), nodes, features)).astype("float32")
    mask = (np.arange(nodes)[None] < np.array(sizes)[:, None]).astype("float32")
    x[mask == 0] = 100.0
    return x, mask


def test_masked_batch_norm_matches_numpy_and_the_unpadded_nodes():
    x, mask = padded_states(np.random.default_rng(0))
    real = x[mask > 0]  # [sum n, F]
    mean, var = real.mean(0), real.var(0)  # biased variance, as Keras (and BN's forward pass)
    norm = keras.layers.BatchNormalization(momentum=MOMENTUM, epsilon=EPS)
    out = norm(x, training=True, mask=mask).numpy()
    np.testing.assert_allclose(out[mask > 0], (real - mean) / np.sqrt(var + EPS), atol=1e-4)
    np.testing.assert_allclose(norm.moving_mean.numpy(), (1 - MOMENTUM) * mean, rtol=1e-5)
    np.testing.assert_allclose(norm.moving_variance.numpy(), MOMENTUM + (1 - MOMENTUM) * var, rtol=1e-5)
    unpadded = keras.layers.BatchNormalization(momentum=MOMENTUM, epsilon=EPS)
    np.testing.assert_allclose(out[mask > 0], unpadded(real, training=True).numpy(), atol=1e-4)
    np.testing.assert_allclose(norm.moving_variance.numpy(), unpadded.moving_variance.numpy(), rtol=1e-5)
    inference = norm(x, training=False).numpy()  # the affine of the moving statistics
    expected = (x - norm.moving_mean.numpy()) / np.sqrt(norm.moving_variance.numpy() + EPS)
    np.testing.assert_allclose(inference, expected, atol=1e-4)
    unmasked = norm(x, training=True).numpy()  # what the mask prevents: padding in the statistics
    assert np.abs(unmasked[mask > 0] - out[mask > 0]).max() > 0.1


def random_graphs(rng, sizes=(4, 9, 6), features=3):
    graphs = []
    for n in sizes:
        a = np.triu(rng.random((n, n)) < 0.4, 1)
        graphs.append((rng.normal(size=(n, features)).astype("float32"),
                       kg.edges_from_adjacency((a | a.T).astype(float))[0]))
    return graphs


def test_gin_batch_norm_on_a_padded_batch_equals_the_disjoint_union():
    rng = np.random.default_rng(1)
    graphs = random_graphs(rng)
    batch = kg.pad_graphs(graphs, num_nodes=11, num_edges=60)
    batch.node_features[batch.node_mask == 0] = 50.0  # padding junk
    offsets = np.cumsum([0] + [len(x) for x, _ in graphs[:-1]])
    union_x = np.concatenate([x for x, _ in graphs])
    union_edges = np.concatenate([e + o for (_, e), o in zip(graphs, offsets)]).astype("int32")

    padded_layer, union_layer = GINConv((6, 5), batch_norm=True), GINConv((6, 5), batch_norm=True)
    padded_layer(batch.node_features, batch.edges, node_mask=batch.node_mask)  # build
    union_layer(union_x, union_edges)
    union_layer.set_weights(padded_layer.get_weights())
    padded = padded_layer(batch.node_features, batch.edges, node_mask=batch.node_mask, training=True)
    union = union_layer(union_x, union_edges, training=True).numpy()
    np.testing.assert_allclose(padded.numpy()[batch.node_mask > 0], union, atol=1e-4)
    for a, b in zip(padded_layer.non_trainable_weights, union_layer.non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)  # moving statistics
    assert len(padded_layer.norms) == 2 and padded_layer.get_config()["batch_norm"] is True
    with pytest.raises(ValueError, match="needs node_mask"):
        padded_layer(batch.node_features, batch.edges)
    from kerasdl.layers.graph import GCNConv
    with pytest.raises(ValueError, match="GCNConv does not take node_mask"):
        GCNConv(4)(batch.node_features, batch.edges, node_mask=batch.node_mask)


def test_gin_model_with_batch_norm_converts_to_tflite_builtins():
    """The registered gin (batch norm on by default) in inference mode: MUL/ADD of the moving
    statistics, built-in ops, parity, after a training call has moved those statistics."""
    from kerasdl.export import check_builtin_ops, convert, parity
    from kerasdl.registry import create_model

    model = create_model("gin", num_features=3, num_classes=2, hidden_units=(8,), dropout=0.0)
    batch = kg.pad_graphs(random_graphs(np.random.default_rng(2)), num_nodes=10, num_edges=40)
    model(batch.inputs(with_mask=True), training=True)
    moved = [w.numpy() for w in model.non_trainable_weights if "moving_mean" in w.path]
    assert moved and all(np.abs(m).max() > 0 for m in moved)
    flatbuffer = convert(model)
    check_builtin_ops(flatbuffer)
    report = parity(model, flatbuffer, batch.inputs(with_mask=True))
    assert report["max_abs_error"] <= 1e-4
