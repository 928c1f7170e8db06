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


def test_in_batch_softmax_loss_matches_numpy():
    from kerasdl.models.recommender.two_tower import InBatchSoftmaxLoss

    rng = np.random.default_rng(6)
    logits, log_q = rng.normal(size=(4, 4)).astype("float32"), np.log(rng.dirichlet(np.ones(4))).astype("float32")
    corrected = logits - log_q[None]
    expected = np.mean(np.log(np.exp(corrected).sum(1)) - np.diag(corrected))
    np.testing.assert_allclose(InBatchSoftmaxLoss()(log_q, logits), expected, rtol=1e-5)


def test_pacing_spreads_the_budget_and_a_better_ctr_wins_more_clicks():
    from kerasdl.models.recommender.bidding import market_prices, simulate

    rng = np.random.default_rng(7)
    true_ctr = rng.beta(2, 2, 4000)
    clicks = (rng.random(4000) < true_ctr).astype(float)
    prices = market_prices(4000, seed=1)
    budget = 0.05 * prices.sum()
    greedy = simulate(true_ctr, clicks, prices, budget, pacing=False)
    paced = simulate(true_ctr, clicks, prices, budget, pacing=True)
    blind = simulate(np.full(4000, true_ctr.mean()), clicks, prices, budget, pacing=True)
    assert greedy["spend"] <= budget and paced["spend"] <= budget
    assert greedy["exhausted_at"] < 0.5 < paced["exhausted_at"]  # greedy runs dry early
    assert paced["clicks"] > greedy["clicks"] and paced["clicks"] > blind["clicks"]
    with pytest.raises(ValueError, match="budget"):
        simulate(true_ctr, clicks, prices, 0.0)


def test_movielens_feature_columns():
    from kerasdl.data.movielens import movielens_100k, movielens_100k_features
    from kerasdl.data.movielens_features import MovieLensFeaturizer, ctr_label, user_histories

    train, test = movielens_100k("train"), movielens_100k("test")
    featurizer = MovieLensFeaturizer(movielens_100k_features(), train)
    assert featurizer.vocab_size == 2687 and len(featurizer.fields) == 26
    ids, values = featurizer.encode(test)
    offsets = np.asarray([featurizer.offsets[f] for f in featurizer.fields])
    sizes = np.asarray([featurizer.field_sizes[f] for f in featurizer.fields])
    assert ((ids >= offsets) & (ids < offsets + sizes)).all()  # each column inside its field
    cold = ~np.isin(test.item, train.item)
    assert cold.any() and (ids[cold, 5] == featurizer.offsets["item"]).all()  # cold -> OOV id
    assert (ids[~cold, 5] > featurizer.offsets["item"]).all()
    np.testing.assert_array_equal(values[:, 7:], movielens_100k_features().genres[test.item])
    assert 0.5 < ctr_label(train).mean() < 0.6
    all_ratings = movielens_100k("all")
    history = user_histories(all_ratings, np.arange(len(all_ratings)), 5)
    first = np.lexsort((np.arange(len(all_ratings)), all_ratings.timestamp, all_ratings.user))
    first = first[np.r_[True, np.diff(all_ratings.user[first]) != 0]]  # each user's first rating
    assert (history[first] == 0).all() and (history > 0).mean() > 0.9
