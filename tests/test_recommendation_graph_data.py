"""MovieLens-100k (recbole copy) and the pykeen knowledge graphs: real counts, the time-ordered
split protocol, the reciprocal queries and the R-GCN message graph."""
import numpy as np
import pytest

from kerasdl.data.knowledge_graphs import reciprocal_queries, relational_edges
from kerasdl.data.movielens import movielens_100k, movielens_100k_features, time_ordered_split
from kerasdl.registry import load_dataset


def test_movielens_100k_is_the_real_dataset():
    ratings = movielens_100k("all")
    assert len(ratings) == 100_000
    assert len(np.unique(ratings.user)) == 943 and len(np.unique(ratings.item)) == 1682
    assert set(np.unique(ratings.rating)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert np.bincount(ratings.user).min() == 20  # every MovieLens-100k user rated >= 20 movies
    features = movielens_100k_features()
    assert features.title[0] == "Toy Story" and features.year[0] == 1995
    assert features.genres[0].nonzero()[0].tolist() == [2, 3, 4]  # Animation, Children's, Comedy
    assert features.user_matrix().shape == (943, 30) and features.item_matrix().shape == (1682, 21)
    assert np.isnan(features.year).sum() == 2  # "unknown" and a mis-parsed title in recbole's copy
    assert np.isfinite(features.item_matrix()).all()


def test_movielens_split_is_per_user_time_ordered():
    splits = {s: movielens_100k(s) for s in ("train", "validation", "test")}
    assert [len(r) for r in splits.values()] == [80_808, 9_596, 9_596]
    pairs = [set(zip(r.user.tolist(), r.item.tolist())) for r in splits.values()]
    assert not (pairs[0] & pairs[1] or pairs[0] & pairs[2] or pairs[1] & pairs[2])
    last_train = np.full(943, -1)
    np.maximum.at(last_train, splits["train"].user, splits["train"].timestamp)
    first_valid = np.full(943, 2**62)
    np.minimum.at(first_valid, splits["validation"].user, splits["validation"].timestamp)
    last_valid = np.full(943, -1)
    np.maximum.at(last_valid, splits["validation"].user, splits["validation"].timestamp)
    first_test = np.full(943, 2**62)
    np.minimum.at(first_test, splits["test"].user, splits["test"].timestamp)
    assert (last_train <= first_valid).all() and (last_valid <= first_test).all()
    assert np.bincount(splits["test"].user, minlength=943).min() >= 2


def test_time_ordered_split_by_hand():
    # user 0: 10 ratings -> 8/1/1 by time; user 1: 25 ratings -> 21/2/2; ties keep the row order
    user = np.array([0] * 10 + [1] * 25)
    time = np.concatenate([np.arange(10)[::-1], np.r_[np.zeros(5), np.arange(20)]])
    split = time_ordered_split(user, time)
    assert sorted(split["test"].tolist()) == [0, 33, 34]  # the latest: row 0 (t=9), rows 33-34
    assert sorted(split["validation"].tolist()) == [1, 31, 32]
    assert len(split["train"]) == 8 + 21
    with pytest.raises(ValueError, match="non-empty"):
        time_ordered_split(np.array([]), np.array([]))


def test_movielens_bad_split_name():
    with pytest.raises(ValueError, match="valid splits"):
        movielens_100k("dev")


@pytest.mark.parametrize("name, sizes", [("nations", (14, 55, 1592, 199, 201)),
                                         ("kinships", (104, 25, 8544, 1068, 1074))])
def test_knowledge_graphs_are_pykeens(name, sizes):
    graph = load_dataset(name)
    assert (graph.num_entities, graph.num_relations, len(graph.train), len(graph.valid),
            len(graph.test)) == sizes
    every = graph.all_triples()
    assert every[:, [0, 2]].max() < graph.num_entities and every[:, 1].max() < graph.num_relations
    assert len({tuple(t) for t in every.tolist()}) == len(every)  # splits are disjoint


def test_reciprocal_queries_and_message_graph():
    triples = np.array([[0, 0, 1], [2, 0, 1], [1, 1, 2]])
    queries, targets = reciprocal_queries(triples, num_relations=2)
    assert queries.tolist() == [[0, 0], [2, 0], [1, 1], [1, 2], [1, 2], [2, 3]]
    assert targets.tolist() == [1, 1, 2, 0, 2, 1]
    sources, relations, edge_targets, weights = relational_edges(triples, 3, 2, "relation")
    # node 1 receives two relation-0 edges (weights 1/2 each); every other (node, type) one edge
    assert list(zip(sources, relations, edge_targets)) == [(0, 0, 1), (2, 0, 1), (1, 1, 2),
                                                           (1, 2, 0), (1, 2, 2), (2, 3, 1)]
    np.testing.assert_allclose(weights, [0.5, 0.5, 1, 1, 1, 1])
    # per node: node 1 receives three edges (two of type 0, one of type 3), node 2 two
    np.testing.assert_allclose(relational_edges(triples, 3, 2)[3], [1 / 3, 1 / 3, 1 / 2, 1, 1 / 2, 1 / 3])
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        reciprocal_queries(np.zeros((3, 2)), 2)
