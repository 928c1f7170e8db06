"""NAS over the DARTS cell space: mixed op, genotype derivation and validity, path sampling,
mutation, aging evolution, and searches that improve their objective on a tiny budget."""
import keras
import numpy as np
import pytest
import scipy.special
import tensorflow as tf

from kerasdl.automl.cell_space import (
    DARTS_V2, Genotype, derive_genotype, edge_index, mutate, num_edges, random_genotype)
from kerasdl.automl.evolution import RegularizedEvolution
from kerasdl.automl.one_shot import genotype_from_codes, sample_edge_codes
from kerasdl.automl.supernet import SearchCell
from kerasdl.layers.nas import OPERATIONS, MixedOp

K = len(OPERATIONS)


def test_mixed_op_is_the_softmax_weighted_sum_of_its_operations():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, 6, 6, 4)), tf.float32)
    mixed = MixedOp(4)
    mixed.build(x.shape)
    alpha = rng.normal(size=K)
    weights = scipy.special.softmax(alpha)  # independent of tf.nn.softmax
    expected = sum(weights[k] * np.asarray(op(x, training=False))
                   for k, op in enumerate(mixed.ops, start=1))  # "none" (k = 0) adds nothing
    got = mixed(x, weights=tf.nn.softmax(tf.constant(alpha, tf.float32)), training=False)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for code in range(K):  # one path: only that operation (code 0: the absent edge)
        single = mixed(x, code=tf.constant(code), training=False)
        one_hot = mixed(x, weights=tf.one_hot(code, K), training=False)
        np.testing.assert_allclose(single, one_hot, atol=1e-6)
    assert not np.any(mixed(x, code=tf.constant(0)))


def test_search_cell_path_equals_its_one_hot_relaxation():
    """A genotype run as one path (switch_case per edge) is the relaxation with one-hot weights."""
    rng = np.random.default_rng(1)
    cell = SearchCell(4, nodes=3, reduction_prev=False)
    s0, s1 = (tf.constant(rng.normal(size=(2, 5, 5, 6)), tf.float32) for _ in range(2))
    codes = random_genotype(rng, 3).edge_codes()
    path = cell(s0, s1, codes=tf.constant(codes), training=False)
    relaxed = cell(s0, s1, weights=tf.one_hot(codes, K), training=False)
    assert path.shape == (2, 5, 5, 12)
    np.testing.assert_allclose(path, relaxed, atol=1e-5)


def _derive_by_hand(alpha, nodes):
    """DARTS' rule, written out with loops: per node the two edges with the largest best
    non-zero softmax weight, each with its argmax non-zero operation."""
    cell = []
    for i in range(nodes):
        best = {}
        for src in range(2 + i):
            w = scipy.special.softmax(alpha[edge_index(i, src)])
            op = max(range(1, K), key=lambda k: w[k])
            best[src] = (w[op], OPERATIONS[op])
        kept = sorted(sorted(best, key=lambda s: -best[s][0])[:2])
        cell.append(tuple((best[s][1], s) for s in kept))
    return Genotype(tuple(cell))


def test_derived_genotype_picks_the_argmax_operations():
    alpha = np.zeros((num_edges(2), K))
    alpha[edge_index(0, 0), OPERATIONS.index("sep_conv_3x3")] = 2.0
    alpha[edge_index(0, 1), OPERATIONS.index("max_pool_3x3")] = 1.0
    alpha[edge_index(1, 0), OPERATIONS.index("none")] = 5.0  # a strong zero suppresses the edge
    alpha[edge_index(1, 1), OPERATIONS.index("dil_conv_3x3")] = 1.5
    alpha[edge_index(1, 2), OPERATIONS.index("skip_connect")] = 3.0
    assert derive_genotype(alpha) == Genotype(((("sep_conv_3x3", 0), ("max_pool_3x3", 1)),
                                               (("dil_conv_3x3", 1), ("skip_connect", 2))))
    rng = np.random.default_rng(0)
    for _ in range(20):
        alpha = rng.normal(size=(num_edges(4), K)) * 2
        assert derive_genotype(alpha) == _derive_by_hand(alpha, 4)


@pytest.mark.parametrize("nodes, message", [
    ([[["conv_7x7", 0], ["skip_connect", 1]]], "'conv_7x7' is not one of"),
    ([[["none", 0], ["skip_connect", 1]]], "'none' is not one of"),
    ([[["skip_connect", 1], ["sep_conv_3x3", 1]]], "distinct states, got 1 twice"),
    ([[["skip_connect", 0], ["sep_conv_3x3", 2]]], "may take states 0..1, not 2"),
    ([[["skip_connect", 0]]], "two (operation, input) pairs"),
    ([], "at least one intermediate node"),
])
def test_bad_genotypes_fail_clearly(nodes, message):
    with pytest.raises(ValueError) as err:
        Genotype.from_list(nodes)
    assert message in str(err.value)


def test_sampled_paths_are_uniform_valid_genotypes():
    seed = keras.random.SeedGenerator(0)
    sample = tf.function(lambda: sample_edge_codes(seed, 3))
    genotypes = [genotype_from_codes(sample().numpy(), 3) for _ in range(300)]
    assert genotypes[0] != genotypes[1]
    ops = [op for g in genotypes for node in g.nodes for op, _ in node]
    counts = np.array([ops.count(op) for op in OPERATIONS[1:]])
    assert counts.min() > 0.6 * counts.mean()  # 1,800 draws over 6 operations
    pairs = {tuple(src for _, src in g.nodes[2]) for g in genotypes}
    assert len(pairs) == 6  # node 2 chooses 2 of its 4 input states: all 6 pairs occur
    assert Genotype.from_list(DARTS_V2.to_list()) == genotype_from_codes(DARTS_V2.edge_codes(), 4)


def test_mutation_changes_exactly_one_input():
    rng = np.random.default_rng(0)
    parent = DARTS_V2
    kinds = set()
    for _ in range(100):
        child = mutate(parent, rng)
        changed = [(set(pn) - set(cn), set(cn) - set(pn))
                   for pn, cn in zip(parent.nodes, child.nodes) if set(pn) != set(cn)]
        assert len(changed) == 1 and all(len(side) == 1 for side in changed[0]), (parent, child)
        ((op_a, src_a),), ((op_b, src_b),) = changed[0]
        kinds.add("op" if src_a == src_b else "state")
        assert (op_a == op_b) != (src_a == src_b)
    assert kinds == {"op", "state"}


def test_aging_removes_the_oldest_even_when_it_is_the_fittest():
    scores = iter(range(100, 0, -1))  # each newcomer is worse than all before it
    evolution = RegularizedEvolution(lambda g: next(scores), population_size=4, sample_size=4,
                                     nodes=2, seed=0)
    for _ in range(4):
        evolution.cycle()
    assert [c.born for c in evolution.population] == [0, 1, 2, 3]
    child = evolution.cycle()
    assert child.parent == 0  # the tournament (here the whole population) picks the fittest
    assert [c.born for c in evolution.population] == [1, 2, 3, 4]  # ... and aging drops it
    assert evolution.best.born == 0  # the best ever evaluated is still reported


def test_evolution_improves_its_objective():
    """Fitness: the number of sep_conv_3x3 slots (8 at most; 4/3 on average at random)."""
    def fitness(genotype):
        return sum(op == "sep_conv_3x3" for node in genotype.nodes for op, _ in node)

    evolution = RegularizedEvolution(fitness, population_size=8, sample_size=3, nodes=4, seed=0)
    best = evolution.run(80, verbose=0)
    initial = [c.fitness for c in evolution.history[:8]]
    final = [c.fitness for c in evolution.population]
    assert best.fitness > max(initial) and best.born >= 8, (initial, best)
    assert np.mean(final) >= np.mean(initial) + 2.5, (initial, final)


def _tiny_supernet():
    from kerasdl.automl.supernet import Supernet

    return Supernet(input_shape=(8, 8, 1), channels=8, cells_per_stage=(1,), nodes=2,
                    stem_multiplier=1, seed=0)


@pytest.mark.slow  # 35 s at load 3, ~3 min at load 10: tracing a supernet is slow
def test_darts_search_lowers_the_validation_loss(digits_arrays):
    """Bilevel DARTS on real 8x8 digits: the architecture step's validation loss falls, α leaves
    its near-uniform start, and the learned α beats uniform α at the same weights."""
    from kerasdl.automl.darts import DartsTrainer, bilevel_data
    from kerasdl.data.pipelines import from_arrays

    (x, y), _ = digits_arrays
    net = _tiny_supernet()
    alpha0 = net.alpha.numpy()
    trainer = DartsTrainer(net, keras.optimizers.Adam(1e-2), keras.optimizers.Adam(3e-2),
                           jit_compile=False, verbose=0)
    history = trainer.fit(bilevel_data(x[:1000], y[:1000], x[1000:], y[1000:], 64),
                          epochs=3, steps_per_epoch=10)
    arch_losses = [e["arch_loss"] for e in history.epochs]
    assert arch_losses[2] < arch_losses[1] < arch_losses[0], arch_losses
    assert np.abs(net.alpha.numpy() - alpha0).max() > 0.05
    assert trainer.genotype() == derive_genotype(net.alpha.numpy(), 2)
    val = from_arrays(x[1000:], y[1000:], 500, training=False)
    learned = trainer.evaluate(val)["loss"]
    net.alpha.assign(np.zeros_like(alpha0))
    assert learned < trainer.evaluate(val)["loss"]
    trainer.close()


@pytest.mark.slow
def test_one_shot_supernet_ranks_paths_by_inherited_accuracy(digits_arrays):
    from kerasdl.automl.one_shot import InheritedAccuracy, OneShotTrainer, rank_architectures
    from kerasdl.data.pipelines import from_arrays

    (x, y), _ = digits_arrays
    net = _tiny_supernet()
    candidates = [random_genotype(np.random.default_rng(s), 2) for s in range(4)]
    score = InheritedAccuracy(net, x[1000:], y[1000:], batch_size=250)
    before = [score(g) for g in candidates]
    trainer = OneShotTrainer(net, keras.optimizers.Adam(1e-2), jit_compile=False, verbose=0)
    trainer.fit(from_arrays(x[:1000], y[:1000], 64, training=True), epochs=4, steps_per_epoch=25)
    ranked = rank_architectures(score, candidates)
    accuracies = [a for a, _ in ranked]
    assert accuracies == sorted(accuracies, reverse=True)
    assert sorted(g.nodes for _, g in ranked) == sorted(g.nodes for g in candidates)
    # seen: 0.05-0.18 untrained (chance 0.1), 0.23-0.61 after 100 steps
    assert np.mean(accuracies) > np.mean(before) + 0.2, (before, accuracies)
    trainer.close()


@pytest.mark.slow  # traces two supernets and seven cell networks: 27.5 min at load 7-10
@pytest.mark.timeout(3600)  # over setup.cfg's 1,200 s default
def test_nas_pipeline_fast(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "pipelines" / "nas_fashion_mnist.py"
    subprocess.run([sys.executable, str(script), "--fast", "--out-dir", str(tmp_path)],
                   check=True, capture_output=True, text=True)
    run = tmp_path / "nas_fashion_mnist_fast"
    results = json.loads((run / "results.json").read_text())
    assert set(results["methods"]) == {"darts", "evolution", "one_shot"}
    for method, row in results["methods"].items():
        Genotype.from_list(row["retrained"]["genotype"])  # a valid cell of the space
        assert 0.0 <= row["retrained"]["test_accuracy"] <= 1.0 and row["search_seconds"] > 0
        assert (run / f"progress_{method}.png").stat().st_size > 5_000
    assert results["methods"]["evolution"]["evaluations"] == 3
    assert results["methods"]["darts"]["retrained"]["tflite_fp32_max_abs_error"] <= 1e-4
    assert len(results["random"]) == 1
    bad = subprocess.run([sys.executable, str(script), "--methods", "enas"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "--methods: unknown enas" in bad.stderr
