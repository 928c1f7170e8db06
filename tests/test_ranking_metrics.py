"""Filtered link-prediction ranks and top-k recommendation metrics against brute force."""
import math

import numpy as np
import pytest

from kerasdl.data.knowledge_graphs import KnowledgeGraph, evaluate_link_prediction, popularity_scorer
from kerasdl.metrics.ranking import (answer_sets, filtered_ranks, rank_summary,
                                     recommendation_metrics, top_k_items)


def brute_force_filtered_rank(score, triple, known, num_entities, side):
    """Corrupt one side of ``triple`` with every entity, drop corruptions that are known true
    triples, and rank the true triple among the rest (ties: mean of best and worst rank)."""
    h, r, t = triple
    true_score = score(h, r, t)
    higher = tied = 0
    for e in range(num_entities):
        corrupted = (e, r, t) if side == "head" else (h, r, e)
        if corrupted == tuple(triple) or corrupted in known:
            continue
        s = score(*corrupted)
        higher += s > true_score
        tied += s == true_score
    return 1 + higher + tied / 2


def test_filtered_ranks_match_brute_force_on_a_tiny_kg():
    rng = np.random.default_rng(0)
    num_entities, num_relations = 6, 2
    triples = np.array([[0, 0, 1], [0, 0, 2], [3, 1, 0], [4, 0, 1], [2, 1, 5], [1, 1, 5],
                        [5, 0, 3], [0, 1, 4]])
    known = {tuple(t) for t in triples.tolist()}
    # a scorer with deliberate ties: integer scores from a random table
    table = rng.integers(0, 3, (num_entities, 2 * num_relations, num_entities)).astype(float)

    def score(h, r, t):  # tail side uses relation r, head side its reciprocal r + R (as the models)
        return table[h, r, t]

    test = triples[[0, 2, 4, 7]]
    queries = np.concatenate([test[:, [0, 1]], np.stack([test[:, 2], test[:, 1] + num_relations], 1)])
    targets = np.concatenate([test[:, 2], test[:, 0]])
    sets = answer_sets(np.concatenate([triples[:, [0, 1]],
                                       np.stack([triples[:, 2], triples[:, 1] + num_relations], 1)]),
                       np.concatenate([triples[:, 2], triples[:, 0]]))
    scores = table[queries[:, 0], queries[:, 1]]
    ranks = filtered_ranks(scores, queries, targets, sets)
    expected = [brute_force_filtered_rank(score, t, known, num_entities, "tail") for t in test.tolist()]
    expected += [brute_force_filtered_rank(lambda h, r, t: table[t, r + num_relations, h], t, known,
                                           num_entities, "head") for t in test.tolist()]
    np.testing.assert_allclose(ranks, expected)
    summary = rank_summary(ranks, ks=(1, 3))
    assert summary["mrr"] == pytest.approx(np.mean(1 / np.array(expected)))
    assert summary["hits@3"] == pytest.approx(np.mean(np.array(expected) <= 3))


def test_constant_scores_give_the_expected_random_rank():
    ranks = filtered_ranks(np.zeros((2, 5)), np.array([[0, 0], [1, 0]]), np.array([2, 3]),
                           {(0, 0): np.array([2, 4])})
    assert ranks.tolist() == [2.5, 3.0]  # 4 candidates left -> (1 + 4) / 2; 5 left -> 3


def test_link_prediction_evaluation_and_popularity_baseline():
    graph = KnowledgeGraph("toy", tuple("abcd"), ("r",), train=np.array([[0, 0, 1], [2, 0, 1], [3, 0, 0]]),
                           valid=np.array([[3, 0, 1]]), test=np.array([[2, 0, 0]]))
    report = evaluate_link_prediction(popularity_scorer(graph), graph, "test")
    # tail query (c, r, ?) -> a: b answers r twice, a once; b is filtered (known true): rank 1.
    # head query (a, r^-1, ?) -> c: a, c, d answer r^-1 once each; d is filtered, the degree
    # tie-break puts a (degree 2) above c (degree 1): rank 2.
    assert report["mrr"] == pytest.approx((1 + 1 / 2) / 2)
    with pytest.raises(ValueError, match="returned shape"):
        evaluate_link_prediction(lambda q: np.zeros((len(q), 3)), graph, "test")


def test_top_k_excludes_seen_items():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    top = top_k_items(scores, [np.array([0]), np.array([3, 2])], 2)
    assert top.tolist() == [[1, 2], [1, 0]]


def test_recommendation_metrics_by_hand():
    top = np.array([[3, 1, 4, 0, 2], [0, 1, 2, 3, 4], [4, 3, 2, 1, 0]])
    relevant = [np.array([1, 2]), np.array([4]), np.array([])]  # the third user is skipped
    m = recommendation_metrics(top, relevant, ks=(1, 2, 5))
    d = [1 / math.log2(p + 1) for p in range(1, 6)]
    assert m["recall@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["recall@5"] == pytest.approx(1.0)
    assert m["hits@1"] == 0.0 and m["hits@2"] == pytest.approx(0.5)
    assert m["ndcg@2"] == pytest.approx((d[1] / (d[0] + d[1]) + 0) / 2)
    assert m["ndcg@5"] == pytest.approx(((d[1] + d[4]) / (d[0] + d[1]) + d[4] / d[0]) / 2)


def test_recommendation_metrics_random_against_loops():
    rng = np.random.default_rng(1)
    top = np.stack([rng.permutation(30)[:10] for _ in range(20)])
    relevant = [rng.choice(30, rng.integers(1, 6), replace=False) for _ in range(20)]
    m = recommendation_metrics(top, relevant, ks=(3, 10))
    for k in (3, 10):
        recall = np.mean([len(set(t[:k]) & set(r)) / len(r) for t, r in zip(top, relevant)])
        ndcg = np.mean([sum(1 / math.log2(p + 2) for p, i in enumerate(t[:k]) if i in r)
                        / sum(1 / math.log2(p + 2) for p in range(min(k, len(r))))
                        for t, r in zip(top, relevant)])
        assert m[f"recall@{k}"] == pytest.approx(recall) and m[f"ndcg@{k}"] == pytest.approx(ndcg)
    with pytest.raises(ValueError, match="fewer than k"):
        recommendation_metrics(top, relevant, ks=(11,))
