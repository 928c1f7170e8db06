"""Language models: RNN LMs against plain Keras stacks and the gate parameter formula, causality,
the ELMo biLM's layout and layer mix, LM cross-entropy over long texts, the Kneser–Ney n-gram
(normalisation, a hand-computed example, back-off) and temperature / top-k sampling."""
import json
import math
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasdl
from kerasdl.models.text.language_models import (ScalarMix, bidirectional_targets,
                                                 causal_lm_cross_entropy, unrolled)
from kerasdl.models.text.ngram import KneserNeyLM
from kerasdl.models.text.sampling import causal_next_logits, generate, sample_token

ROOT = Path(__file__).resolve().parents[1]
V, T = 11, 7


def ids(shape, seed=0):
    return np.random.default_rng(seed).integers(1, V, shape).astype("int32")


# ------------------------------------------------------------------------------- RNN LMs
@pytest.mark.parametrize("cell,keras_cell,gates", [("lstm", keras.layers.LSTM, 4),
                                                   ("gru", keras.layers.GRU, 3)])
def test_rnn_lm_equals_a_plain_keras_stack_and_the_gate_formula(cell, keras_cell, gates):
    model = kerasdl.create_model(f"{cell}_lm", vocab_size=V, sequence_length=T, embedding_dim=5,
                                 units=6, num_layers=2, dropout=0.2)
    reference = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(V, 5),
                                  keras_cell(6, return_sequences=True), keras_cell(6, return_sequences=True),
                                  keras.layers.LayerNormalization(), keras.layers.Dense(V)])
    reference.set_weights(model.get_weights())
    x = ids((3, T))
    np.testing.assert_allclose(model(x, training=False), reference(x), atol=1e-6)
    # g * [h(h + i) + h] per layer (GRU: Keras' reset_after=True keeps a second bias: + g*h)
    extra_bias = gates * 6 if cell == "gru" else 0
    layer = lambda i: gates * (6 * (6 + i) + 6) + extra_bias  # noqa: E731
    assert model.count_params() == V * 5 + layer(5) + layer(6) + 2 * 6 + 6 * V + V  # + LayerNorm
    plain = kerasdl.create_model(f"{cell}_lm", vocab_size=V, sequence_length=T, embedding_dim=5,
                                 units=6, num_layers=2, output_norm=False)
    assert plain.count_params() == model.count_params() - 2 * 6


@pytest.mark.parametrize("name", ["lstm_lm", "gru_lm", "elmo_bilm"])
def test_forward_logits_are_causal(name):
    model = kerasdl.create_model(name, vocab_size=V, sequence_length=T, embedding_dim=4, units=5,
                                 num_layers=2)
    x = ids((2, T))
    changed = x.copy()
    changed[:, 4] = (changed[:, 4] % (V - 1)) + 1
    a, b = np.asarray(model(x)), np.asarray(model(changed))
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-6)  # positions before the change
    assert np.abs(a[:, 4] - b[:, 4]).max() > 1e-4  # the changed position itself sees it
    if name == "elmo_bilm":  # backward half: position t sees tokens t..T-1 only
        np.testing.assert_allclose(a[:, T + 5:], b[:, T + 5:], atol=1e-6)
        assert np.abs(a[:, T + 4] - b[:, T + 4]).max() > 1e-4


def test_unrolled_twin_has_the_same_outputs():
    model = kerasdl.create_model("lstm_lm", vocab_size=V, sequence_length=T, embedding_dim=4, units=5)
    twin = unrolled(model)
    assert twin.get_config()["unroll"] and not model.get_config()["unroll"]
    x = ids((2, T))
    np.testing.assert_allclose(twin(x), model(x), atol=1e-6)
    assert unrolled(twin) is twin


def test_bad_hyperparameters_fail_clearly():
    with pytest.raises(ValueError, match="unknown cell 'rnn'"):
        kerasdl.create_model("lstm_lm", cell="rnn")
    with pytest.raises(ValueError, match="unroll=True needs a fixed sequence_length"):
        kerasdl.create_model("gru_lm", sequence_length=None, unroll=True)
    with pytest.raises(ValueError, match="vocab_size"):
        kerasdl.create_model("elmo_bilm", vocab_size=1)


# ------------------------------------------------------------------------------------ ELMo
def test_bidirectional_targets_by_hand():
    x, y = bidirectional_targets([[5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(x, [[6, 7, 8]])
    np.testing.assert_array_equal(y, [[7, 8, 9, 5, 6, 7]])  # next tokens | previous tokens
    with pytest.raises(ValueError, match=r"\[N, T\+2\]"):
        bidirectional_targets([[1, 2]])


def test_elmo_representations_mix_the_layers():
    model = kerasdl.create_model("elmo_bilm", vocab_size=V, sequence_length=T, embedding_dim=4,
                                 units=6, num_layers=2)
    x = ids((2, T))
    layers = [np.asarray(t) for t in model.representation_model()(x)]
    assert [l.shape for l in layers] == [(2, T, 8)] * 3
    embedded = np.asarray(model.get_layer("embedding")(x))
    np.testing.assert_allclose(layers[0], np.concatenate([embedded, embedded], -1), atol=1e-6)
    # the backward half of a layer at position t does not see tokens before t
    changed = x.copy()
    changed[:, 2] = (changed[:, 2] % (V - 1)) + 1
    moved = [np.asarray(t) for t in model.representation_model()(changed)]
    np.testing.assert_allclose(moved[2][:, 3:, 4:], layers[2][:, 3:, 4:], atol=1e-6)
    np.testing.assert_allclose(moved[2][:, :2, :4], layers[2][:, :2, :4], atol=1e-6)
    np.testing.assert_allclose(model.elmo_representations(x), np.mean(layers, 0), atol=1e-5)
    np.testing.assert_allclose(model.elmo_representations(x, [30.0, 0.0, 0.0], gamma=2.0),
                               2.0 * layers[0], atol=1e-5)
    mix = ScalarMix()
    mix.build([l.shape for l in layers])
    mix.scalars.assign([0.0, 1.0, 2.0])
    mix.gamma.assign(0.5)
    w = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(mix(layers), 0.5 * sum(wj * l for wj, l in zip(w, layers)), atol=1e-5)
    with pytest.raises(ValueError, match="needs 3 values"):
        model.elmo_representations(x, [1.0, 2.0])


def test_elmo_trains_on_bidirectional_targets():
    """A periodic sequence is predictable both ways; the loss must fall far below uniform."""
    model = kerasdl.create_model("elmo_bilm", vocab_size=V, sequence_length=T, embedding_dim=16,
                                 units=32, num_layers=1, dropout=0.0)
    windows = np.array([[(s + i) % (V - 1) + 1 for i in range(T + 2)] for s in range(40)])
    x, y = bidirectional_targets(windows)
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loss = model.fit(x, y, epochs=40, batch_size=20, verbose=0).history["loss"]
    assert loss[-1] < 0.2 * math.log(V), loss[::10]


# ---------------------------------------------------------------------- LM cross-entropy
def test_cross_entropy_with_disjoint_windows_equals_the_keras_loss():
    model = kerasdl.create_model("gru_lm", vocab_size=V, sequence_length=T, embedding_dim=4, units=5)
    seq = ids(3 * T + 1)
    x, y = seq[:-1].reshape(3, T), seq[1:].reshape(3, T)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x))
    assert causal_lm_cross_entropy(model, seq, stride=T) == pytest.approx(float(expected), rel=1e-5)


def test_cross_entropy_scores_every_target_once_whatever_the_stride():
    """A context-free LM (embedding -> logits) gives the same mean for any stride or length."""
    embedding, dense = keras.layers.Embedding(V, 3), keras.layers.Dense(V)
    inputs = keras.Input((T,), dtype="int32")
    model = keras.Model(inputs, dense(embedding(inputs)))
    logits = np.asarray(dense(embedding(np.arange(V)[None])))[0]  # row i: logits after token i
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    seq = ids(40, seed=3)
    expected = -np.mean(log_softmax[seq[:-1], seq[1:]])
    for stride in (1, 3, T):
        assert causal_lm_cross_entropy(model, seq, stride=stride, batch_size=4) == pytest.approx(
            expected, rel=1e-5)
    with pytest.raises(ValueError, match="need more than sequence_length"):
        causal_lm_cross_entropy(model, seq[:T])


# ------------------------------------------------------------------------------- n-grams
TEXT = "the cat sat on the mat. the dog sat on the log; a cat and a dog."


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("discount", [None, 0.3])
def test_ngram_distributions_sum_to_one_for_any_context(order, discount):
    lm = KneserNeyLM(order, discount=discount).fit(TEXT)
    for context in ("", "t", "the c", "the cat sat", "zzz", "qxq the", TEXT):
        p = lm.distribution(context)
        assert p.shape == (lm.vocab_size,) and (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert lm.probability("a", context) == pytest.approx(p[lm.vocabulary.index("a")], rel=1e-12)
    words = KneserNeyLM(order, discount=discount).fit(TEXT.split())
    for context in ([], ["the"], ["a", "cat"], ["never", "seen"]):
        assert words.distribution(context).sum() == pytest.approx(1.0, abs=1e-12)


def test_ngram_hand_computed_bigram():
    """"aab", order 2, D = 1/2: vocabulary a, b, <unk>; continuation counts a: 2 (after <bos>, a),
    b: 1; P1 = (11, 5, 2)/18; P(a|a) = (1/2 + 1/2*2*11/18)/2 = 10/18, P(b|a) = 7/18, P(<unk>|a) = 1/18;
    P(a|<bos>) = 1/2 + 1/2*11/18 = 29/36; an unseen context ('b') gives P1."""
    lm = KneserNeyLM(2, discount=0.5).fit("aab")
    assert lm.vocabulary == ["a", "b", "<unk>"]
    np.testing.assert_allclose(lm.distribution("a"), np.array([10, 7, 1]) / 18, rtol=1e-12)
    np.testing.assert_allclose(lm.distribution("aab"), np.array([11, 5, 2]) / 18, rtol=1e-12)
    assert lm.probability("a") == pytest.approx(29 / 36, rel=1e-12)
    assert lm.probability("x", "a") == pytest.approx(1 / 18, rel=1e-12)  # out of vocabulary: <unk>
    assert lm.cross_entropy("ab") == pytest.approx(-math.log2(29 / 36 * 7 / 18) / 2, rel=1e-12)
    assert lm.perplexity("ab") == pytest.approx(2 ** lm.cross_entropy("ab"), rel=1e-12)


def test_ngram_estimated_discounts_and_backoff():
    order = 3
    lm = KneserNeyLM(order).fit(TEXT)
    padded = ["<bos>"] * (order - 1) + list(TEXT)
    trigrams = [tuple(padded[i:i + 3]) for i in range(len(padded) - 2)]
    counts = np.unique(np.array(["\x00".join(g) for g in trigrams]), return_counts=True)[1]
    n1, n2 = (counts == 1).sum(), (counts == 2).sum()
    assert lm.discounts[-1] == pytest.approx(n1 / (n1 + 2 * n2))
    # an unseen context backs off to its seen suffix: same distribution whatever came before it
    assert "ct" not in TEXT and "gt" not in TEXT and "t" in TEXT
    np.testing.assert_allclose(lm.distribution("ct"), lm.distribution("gt"), rtol=1e-12)
    assert np.abs(lm.distribution("ct") - lm.distribution("th")).max() > 0.01
    # a context with no seen suffix gets the continuation-count unigram, computed here directly
    bigrams = {tuple(padded[i:i + 2]) for i in range(len(padded) - 1)}
    continuation = np.array([sum(1 for a, b in bigrams if b == w) for w in lm.vocabulary], float)
    d1 = lm.discounts[0]
    expected = (np.maximum(continuation - d1, 0) + d1 * (continuation > 0).sum() / lm.vocab_size) / \
        continuation.sum()
    np.testing.assert_allclose(lm.distribution("zz"), expected, rtol=1e-12)


def test_ngram_higher_order_fits_held_out_text_better():
    train, held_out = TEXT * 3, "the dog sat on the mat."
    bits = [KneserNeyLM(n).fit(train).cross_entropy(held_out) for n in (1, 2, 3)]
    assert bits[0] > bits[1] > bits[2]


def test_ngram_errors():
    with pytest.raises(ValueError, match="order must be >= 1"):
        KneserNeyLM(0)
    with pytest.raises(ValueError, match="discount"):
        KneserNeyLM(3, discount=1.0)
    with pytest.raises(ValueError, match="non-empty"):
        KneserNeyLM(3).fit("")
    with pytest.raises(RuntimeError, match="not fitted"):
        KneserNeyLM(3).distribution("ab")


# ------------------------------------------------------------------------------ sampling
def test_temperature_zero_and_near_zero_are_argmax():
    rng = np.random.default_rng(0)
    for _ in range(20):
        logits = rng.normal(size=30)
        assert sample_token(logits, temperature=0) == np.argmax(logits)
        assert sample_token(logits, temperature=1e-6, rng=rng) == np.argmax(logits)


def test_top_k_never_leaves_the_top_k_and_matches_the_renormalised_softmax():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=12)
    top = set(np.argsort(logits)[-4:].tolist())
    draws = np.array([sample_token(logits, temperature=1.0, top_k=4, rng=rng) for _ in range(6000)])
    assert set(draws.tolist()) <= top
    p = np.exp(logits[sorted(top)]) / np.exp(logits[sorted(top)]).sum()
    freq = np.array([(draws == i).mean() for i in sorted(top)])
    np.testing.assert_allclose(freq, p, atol=0.03)
    assert sample_token(logits, top_k=1, rng=rng) == np.argmax(logits)


def test_temperature_sharpens_or_flattens_the_distribution():
    rng = np.random.default_rng(2)
    logits = np.log([0.5, 0.3, 0.2])
    for temperature in (0.5, 2.0):
        draws = np.array([sample_token(logits, temperature=temperature, rng=rng) for _ in range(6000)])
        p = np.exp(logits / temperature) / np.exp(logits / temperature).sum()
        np.testing.assert_allclose(np.bincount(draws, minlength=3) / 6000, p, atol=0.03)
    assert sample_token([5.0, 4.0, 1.0], temperature=0, banned_ids=(0,)) == 1
    with pytest.raises(ValueError, match="top_k"):
        sample_token(logits, top_k=0)


def test_generate_with_a_causal_lm_reads_the_last_position():
    """A fake LM whose logits at position t favour (token_t + 1) mod V: greedy decoding counts up,
    across the window boundary (longer contexts are cut to the last T tokens)."""
    calls = []

    def lm(window):
        calls.append(window.copy())
        return np.eye(V)[(window + 1) % V] * 10.0

    out = generate(causal_next_logits(lm, T), [3], 12, temperature=0, banned_ids=(0,))
    expected = [3]
    for _ in range(12):
        expected.append((expected[-1] + 1) % V or 1)  # 0 is banned: the tie among the rest -> 1
    assert out == expected
    assert calls[0].tolist() == [[3, 0, 0, 0, 0, 0, 0]] and calls[-1].tolist() == [out[-T - 1:-1]]


def test_generate_from_an_ngram_stays_in_its_vocabulary():
    lm = KneserNeyLM(3).fit(TEXT)
    prompt = lm.encode("the ")
    out = generate(lambda ctx: np.log(lm.distribution([lm.vocabulary[i] for i in ctx])), prompt, 50,
                   temperature=0.8, top_k=5, seed=1, banned_ids=(lm.vocabulary.index("<unk>"),))
    assert out[:4] == prompt and len(out) == 54
    assert "<unk>" not in [lm.vocabulary[i] for i in out]


# ------------------------------------------------------------------------------ pipeline
def test_language_model_pipeline_fast(tmp_path):
    script = str(ROOT / "pipelines" / "language_model.py")
    subprocess.run([sys.executable, script, "--fast", "--models", "lstm_lm,gpt", "--out-dir",
                    str(tmp_path)], check=True, capture_output=True, text=True)
    run = tmp_path / "language_model_char_fast"
    results = json.loads((run / "results.json").read_text())
    assert set(results["models"]) == {"lstm_lm", "gpt"}
    for row in results["models"].values():
        assert 0 < row["test_bits_per_char"] < 7.0  # log2(65-id vocabulary) = 6.02 at random init
        assert len(row["curve_nats"]) == 2
    assert 0 < results["ngram"]["test_bits_per_char"] < 4.0
    assert set(results["samples"]) == {"lstm_lm", "gpt", "kneser_ney_3gram"}
    assert all(s.startswith("It is a truth universally acknowledged") for s in results["samples"].values())
    assert (run / "curves.png").stat().st_size > 10_000
    vocabulary = json.loads((run / "vocabulary.json").read_text())
    assert vocabulary[:2] == ["", "[UNK]"] and "\n" in vocabulary
    loaded = keras.models.load_model(run / "lstm_lm.keras")
    assert loaded.output.shape[-1] == results["vocab_size"]
    bad = subprocess.run([sys.executable, script, "--models", "lstm9000"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--models: unknown lstm9000" in bad.stderr
