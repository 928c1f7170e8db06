"""Recommender/CTR pieces against independent computations: FM's O(kn) identity vs the naive
pairwise sum, FFM vs its double loop, DCN's cross layer vs its formula, DIN's masked attention,
GAUC vs scikit-learn per user, the brute-force index vs a full sort, and the MovieLens feature
columns (time order, histories, cold items)."""
import numpy as np
import pytest

from kerasdl.layers.feature_interaction import (AttentionPooling, CrossLayer, FFMInteraction,
                                                FMInteraction)


def test_fm_pairwise_identity_matches_naive_sum():
    v = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")  # [B, n, k], x folded in
    naive = [[sum(v[b, i] @ v[b, j] for i in range(6) for j in range(i + 1, 6))] for b in range(3)]
    np.testing.assert_allclose(FMInteraction()(v), naive, rtol=1e-5, atol=1e-5)


def test_ffm_matches_double_loop():
    rng = np.random.default_rng(1)
    fields, k, vocab = 4, 3, 10
    layer = FFMInteraction(vocab, fields, k)
    ids, values = rng.integers(0, vocab, (2, fields)).astype("int32"), rng.random((2, fields)).astype("float32")
    out = np.asarray(layer([ids, values]))
    table = np.asarray(layer.embedding.embeddings).reshape(vocab, fields, k)
    for b in range(2):
        expected = sum(table[ids[b, i], j] @ table[ids[b, j], i] * values[b, i] * values[b, j]
                       for i in range(fields) for j in range(i + 1, fields))
        np.testing.assert_allclose(out[b, 0], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expected 4 fields"):
        layer([ids[:, :3], values[:, :3]])


def test_cross_layer_matches_formula():
    rng = np.random.default_rng(2)
    x0, xl = rng.normal(size=(5, 6)).astype("float32"), rng.normal(size=(5, 6)).astype("float32")
    layer = CrossLayer()
    layer([x0, xl])
    w, b = rng.normal(size=(6, 1)).astype("float32"), rng.normal(size=6).astype("float32")
    layer.set_weights([w, b])
    expected = np.stack([np.outer(x0[n], xl[n]) @ w[:, 0] + b + xl[n] for n in range(5)])  # x0 x_lᵀ w
    np.testing.assert_allclose(layer([x0, xl]), expected, rtol=1e-5, atol=1e-5)


def test_attention_pooling_ignores_padding():
    rng = np.random.default_rng(3)
    layer = AttentionPooling((8,))
    target, history = rng.normal(size=(2, 4)).astype("float32"), rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "float32")
    out = np.asarray(layer([target, history, mask]))
    changed = history.copy()
    changed[0, 3:] = 100.0  # padded behaviours of row 0
    np.testing.assert_allclose(layer([target, changed, mask])[0], out[0], atol=1e-5)
    # the weight of a behaviour is the MLP of [e, v, e - v, e * v]
    dense, score = layer.mlp[0], layer.score
    q = np.repeat(target[:, None], 5, 1)
    h = np.concatenate([history, q, history - q, history * q], -1)
    weights = (np.asarray(score(dense(h)))[..., 0]) * mask
    np.testing.assert_allclose(out, (history * weights[..., None]).sum(1), rtol=1e-4, atol=1e-5)


def test_gauc_matches_sklearn_per_user():
    from sklearn.metrics import roc_auc_score

    from kerasdl.metrics.ctr import auc_and_log_loss, gauc

    rng = np.random.default_rng(4)
    users = rng.integers(0, 6, 200)
    labels = rng.integers(0, 2, 200).astype(float)
    labels[users == 5] = 1.0  # one user with a single class: excluded
    scores = np.round(rng.random(200), 1)  # ties
    total = weight = 0
    for u in range(5):
        rows = users == u
        total += rows.sum() * roc_auc_score(labels[rows], scores[rows])
        weight += rows.sum()
    result = gauc(users, labels, scores)
    assert result["users"] == 5 and result["impressions"] == weight
    np.testing.assert_allclose(result["gauc"], total / weight, rtol=1e-12)
    metrics = auc_and_log_loss(labels, scores)
    np.testing.assert_allclose(metrics["auc"], roc_auc_score(labels, scores), atol=2e-3)
    with pytest.raises(ValueError, match="0/1"):
        gauc(users, labels * 2, scores)


def test_brute_force_index_matches_full_sort():
    from kerasdl.metrics.ranking import top_k_items
    from kerasdl.models.recommender.two_tower import retrieve

    rng = np.random.default_rng(5)
    users, items = rng.normal(size=(7, 4)), rng.normal(size=(30, 4))
    seen = [rng.choice(30, int(rng.integers(0, 6)), replace=False) for _ in range(7)]
    np.testing.assert_array_equal(retrieve(users, items, seen, 5), top_k_items(users @ items.T, seen, 5))


def test_user_histories_are_earlier_items_in_time_order():
    from kerasdl.data.movielens import Ratings
    from kerasdl.data.movielens_features import user_histories

    ratings = Ratings(user=np.array([0, 1, 0, 0, 1]), item=np.array([10, 11, 12, 13, 14]),
                      rating=np.ones(5, np.float32), timestamp=np.array([5, 1, 3, 9, 2]))
    # user 0 in time: 12 (t3), 10 (t5), 13 (t9); user 1: 11 (t1), 14 (t2)
    np.testing.assert_array_equal(user_histories(ratings, np.arange(5), 2),
                                  [[0, 13], [0, 0], [0, 0], [13, 11], [0, 12]])
