"""R-GCN and PinSage layers against numpy, the KG and PinSage models' graph tables and the
max-margin loss. (PinSage's TFLite parity with a 120-item table: the model contract.)"""
import keras
import numpy as np
import pytest

from kerasdl.layers.graph_importance import ImportancePoolingConv
from kerasdl.layers.graph_relational import RelationalGraphConv
from kerasdl.losses import MaxMarginRankingLoss
from kerasdl.registry import create_model


@pytest.mark.parametrize("num_bases", [None, 2])
def test_relational_graph_conv_matches_a_per_edge_loop(num_bases):
    rng = np.random.default_rng(0)
    n, d, units, relations, e = 5, 3, 4, 3, 9
    h = rng.normal(size=(n, d)).astype("float32")
    src, rel, dst = rng.integers(0, n, e), rng.integers(0, relations, e), rng.integers(0, n, e)
    w = rng.random(e).astype("float32")
    layer = RelationalGraphConv(units, relations, num_bases, activation="relu")
    out = keras.ops.convert_to_numpy(layer([h, src.astype("int32"), rel.astype("int32"),
                                            dst.astype("int32"), w]))
    bases = keras.ops.convert_to_numpy(layer.bases)
    kernels = bases if num_bases is None else np.einsum(
        "rb,bdu->rdu", keras.ops.convert_to_numpy(layer.coefficients), bases)  # W_r = Σ_b a_rb V_b
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.relation_kernels()), kernels, atol=1e-6)
    expected = h @ keras.ops.convert_to_numpy(layer.self_kernel) + keras.ops.convert_to_numpy(layer.bias)
    for k in range(e):
        expected[dst[k]] += w[k] * h[src[k]] @ kernels[rel[k]]
    np.testing.assert_allclose(out, np.maximum(expected, 0), atol=1e-5)
    assert sum(int(np.prod(v.shape)) for v in layer.weights) == (
        (num_bases or relations) * d * units + (relations * num_bases if num_bases else 0)
        + d * units + units)


def test_importance_pooling_conv_matches_numpy():
    rng = np.random.default_rng(1)
    h, neighbors = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 2, 5)).astype("float32")
    alpha = np.array([[0.7, 0.3], [1, 0], [0.5, 0.5], [0, 0]], "float32")
    layer = ImportancePoolingConv(6, hidden_units=8)
    z = keras.ops.convert_to_numpy(layer([h, neighbors, alpha]))
    q, qb = (keras.ops.convert_to_numpy(v) for v in layer.neighbor_dense.weights)
    w, wb = (keras.ops.convert_to_numpy(v) for v in layer.combine_dense.weights)
    pooled = np.einsum("nt,nth->nh", alpha, np.maximum(neighbors @ q + qb, 0))
    expected = np.maximum(np.concatenate([h, pooled], 1) @ w + wb, 0)
    expected /= np.maximum(np.linalg.norm(expected, axis=1, keepdims=True), 1e-6)
    np.testing.assert_allclose(z, expected, atol=1e-5)


def test_max_margin_ranking_loss():
    scores = np.array([[0.5, 0.45, 0.2, 0.9], [0.1, -0.5, -0.2, 0.0]], "float32")
    labels = np.array([[1, 0, 0, 0], [1, 0, 0, 0]], "float32")
    loss = keras.ops.convert_to_numpy(MaxMarginRankingLoss(margin=0.1, reduction=None)(labels, scores))
    expected = [np.mean(np.maximum(0, scores[i, 1:] - scores[i, 0] + 0.1)) for i in range(2)]
    np.testing.assert_allclose(loss, expected, atol=1e-6)
    with pytest.raises(ValueError, match="margin"):
        MaxMarginRankingLoss(margin=-1)


def test_rgcn_model_uses_its_graph_and_keeps_it_when_saved(tmp_path):
    triples = np.array([[0, 0, 1], [1, 1, 2], [2, 0, 3], [3, 2, 0], [4, 1, 5]])
    model = create_model("rgcn_distmult", num_entities=6, num_relations=3, num_edges=10,
                         embedding_dim=8, num_layers=1, num_bases=2)
    conv = model.scorer.convs[0]  # its kernels start at zero (training starts as DistMult)
    assert not keras.ops.convert_to_numpy(conv.bases).any()
    conv.bases.assign(np.random.default_rng(0).normal(size=conv.bases.shape))
    queries = np.array([[0, 0], [5, 4]], "int32")
    before = model.predict(queries, verbose=0)
    model.set_graph(triples)
    after = model.predict(queries, verbose=0)
    assert np.abs(after - before).max() > 1e-4  # messages now flow
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(queries, verbose=0),
                               after, atol=1e-6)
    with pytest.raises(ValueError, match="num_edges=10"):
        model.set_graph(triples[:4])
    with pytest.raises(ValueError, match="num_edges >= 1"):
        create_model("rgcn_distmult", num_edges=0)


def test_distmult_scores_are_trilinear():
    model = create_model("distmult", num_entities=5, num_relations=2, embedding_dim=4)
    e = keras.ops.convert_to_numpy(model.scorer.entities)
    r = keras.ops.convert_to_numpy(model.scorer.relations)
    logits = model.predict(np.array([[1, 3]], "int32"), verbose=0)
    np.testing.assert_allclose(logits[0], [(e[1] * r[3] * e[t]).sum() for t in range(5)], atol=1e-5)


def small_pinsage(num_items=100, seed=0):
    rng = np.random.default_rng(seed)
    users, t = 7, 3
    model = create_model("pinsage", num_users=users, num_items=num_items, user_feature_dim=3,
                         item_feature_dim=4, num_neighbors=t, embedding_dim=8, num_candidates=5)
    model.set_graph(item_features=rng.normal(size=(num_items, 4)), user_features=rng.normal(size=(users, 3)),
                    item_neighbors=rng.integers(0, num_items, (num_items, t)),
                    item_weights=np.full((num_items, t), 1 / t),
                    user_neighbors=rng.integers(0, num_items, (users, t)),
                    user_weights=np.full((users, t), 1 / t))
    queries = np.concatenate([rng.integers(0, users, (16, 1)),
                              rng.integers(0, num_items, (16, 5))], 1).astype("int32")
    return model, queries


def test_pinsage_scores_all_items_consistently():
    model, queries = small_pinsage()
    scores = model.predict(queries, verbose=0)
    every = model.score_all(queries[:, 0])
    np.testing.assert_allclose(scores, np.take_along_axis(every, queries[:, 1:], 1), atol=1e-5)
    assert np.abs(every).max() <= 1 + 1e-5  # cosine scores
    with pytest.raises(ValueError, match="item_neighbors must hold item ids"):
        model.set_graph(**{**{n: keras.ops.convert_to_numpy(getattr(model.scorer, n)) for n in
                              ("item_features", "user_features", "item_weights", "user_neighbors",
                               "user_weights")}, "item_neighbors": np.full((100, 3), 100)})

