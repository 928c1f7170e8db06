"""Greedy and beam-search decoding against hand-built distributions and brute-force enumeration."""
import itertools

import keras
import numpy as np
import pytest

from kerasdl.models.text.decoding import (beam_search, greedy_decode, length_penalty,
                                          seq2seq_next_token_logits)

PAD, BOS, EOS = 0, 1, 2


def table_model(vocab, seed=0, calls=None):
    """next_token_logits from a fixed random table keyed by (source row, prefix): any distribution."""
    memo = {}

    def next_token_logits(source_ids, prefixes):
        assert prefixes.shape[1] >= 1 and (prefixes[:, 0] == BOS).all()
        assert not (prefixes[:, 1:] == EOS).any(), "a finished hypothesis was extended"
        if calls is not None:
            calls.append(prefixes.shape)
        rows = []
        for src, prefix in zip(source_ids.tolist(), prefixes.tolist()):
            key = (tuple(src), tuple(prefix))
            if key not in memo:
                memo[key] = np.random.default_rng([seed, len(memo)]).normal(0, 2, vocab)
            rows.append(memo[key])
        return np.stack(rows)

    return next_token_logits


def log_softmax_no_pad(logits):
    logits = np.asarray(logits, "float64").copy()
    logits[PAD] = -np.inf
    return logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()


def brute_force(fn, source_row, vocab, max_length, alpha):
    """Best (score, log p, ids) over every sequence that ends at <eos> or runs to max_length."""
    body = [t for t in range(vocab) if t not in (PAD, EOS)]
    candidates = [[*ids, EOS] for n in range(max_length) for ids in itertools.product(body, repeat=n)]
    candidates += [list(ids) for ids in itertools.product(body, repeat=max_length)]

    def log_prob(ids):
        return sum(log_softmax_no_pad(fn(source_row[None], np.array([[BOS, *ids[:i]]]))[0])[token]
                   for i, token in enumerate(ids))

    return max((log_prob(ids) / length_penalty(len(ids), alpha), log_prob(ids), ids) for ids in candidates)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])
def test_wide_beam_equals_brute_force(alpha):
    vocab, max_length = 5, 4  # generatable: bos, eos, 3, 4 (pad never)
    fn = table_model(vocab, seed=1)
    sources = np.arange(1, 7, dtype="int32").reshape(6, 1)
    out = beam_search(fn, sources, bos_id=BOS, eos_id=EOS, max_length=max_length, beam_width=64, alpha=alpha)
    for b, src in enumerate(sources):
        score, logp, ids = brute_force(fn, src, vocab, max_length, alpha)
        np.testing.assert_allclose(out.scores[b], score, rtol=1e-9)
        np.testing.assert_allclose(out.log_probs[b], logp, rtol=1e-9)
        row = out.tokens[b].tolist()
        assert row[:len(ids)] == ids and all(t == PAD for t in row[len(ids):])


def test_beam_search_beats_greedy_on_a_garden_path():
    """Step 1: 'a' 0.5, 'b' 0.4, eos 0.1. After 'a' everything is flat (0.25 each), after 'b' eos has
    0.9: greedy takes 'a' (best sequence ≤ 0.5·0.25), beam search finds 'b <eos>' (0.36)."""
    a, b = 3, 4
    probs = {(BOS,): {a: 0.5, b: 0.4, EOS: 0.1}, (BOS, b): {EOS: 0.9, a: 0.05, b: 0.05}}

    def fn(source_ids, prefixes):
        rows = []
        for prefix in map(tuple, prefixes.tolist()):
            p = probs.get(prefix, {BOS: 0.25, EOS: 0.25, a: 0.25, b: 0.25})
            rows.append(np.log([1e-30] + [p.get(t, 1e-30) for t in range(1, 5)]))
        return np.array(rows)

    src = np.ones((1, 3), "int32")
    greedy = greedy_decode(fn, src, bos_id=BOS, eos_id=EOS, max_length=3)
    beam = beam_search(fn, src, bos_id=BOS, eos_id=EOS, max_length=3, beam_width=2, alpha=0.0)
    assert greedy.tokens[0, 0] == a and greedy.log_probs[0] <= np.log(0.5 * 0.25) + 1e-9
    assert beam.tokens[0].tolist() == [b, EOS, PAD]
    np.testing.assert_allclose(beam.log_probs[0], np.log(0.36), rtol=1e-6)
    assert beam.log_probs[0] > greedy.log_probs[0]
    assert beam.sequences(EOS) == [[b]]


def test_beam_width_one_is_greedy():
    fn = table_model(6, seed=2)
    sources = np.arange(20, dtype="int32").reshape(10, 2)
    greedy = greedy_decode(fn, sources, bos_id=BOS, eos_id=EOS, max_length=6)
    beam = beam_search(fn, sources, bos_id=BOS, eos_id=EOS, max_length=6, beam_width=1, alpha=0.0)
    np.testing.assert_array_equal(beam.tokens, greedy.tokens)
    np.testing.assert_allclose(beam.log_probs, greedy.log_probs, rtol=1e-12)

    # '<eos>' (0.4) ranks second after 'a' (0.5) whose continuations are flat: a width-1 beam must
    # not keep the runner-up '<eos>' although it beats greedy's whole sequence
    def garden(source_ids, prefixes):
        p = [0.25] * 4 if prefixes.shape[1] > 1 else [0.05, 0.4, 0.5, 0.05]  # bos, eos, a, b
        return np.log(np.array([[1e-30, *p]] * len(prefixes)))

    src = np.ones((1, 1), "int32")
    greedy = greedy_decode(garden, src, bos_id=BOS, eos_id=EOS, max_length=3)
    beam = beam_search(garden, src, bos_id=BOS, eos_id=EOS, max_length=3, beam_width=1, alpha=0.0)
    assert greedy.tokens[0, 0] == 3 and greedy.log_probs[0] < np.log(0.4)
    np.testing.assert_array_equal(beam.tokens, greedy.tokens)


def test_eos_ends_a_hypothesis_and_decoding_stops():
    """<eos> is impossible first and certain second: every output is [x, eos, pad...]; no prefix
    holding <eos> (table_model asserts it) or longer than 3 tokens is ever asked for."""
    calls = []
    inner = table_model(5, seed=3, calls=calls)

    def fn(source_ids, prefixes):
        logits = inner(source_ids, prefixes)
        logits[:, EOS] = -50.0 if prefixes.shape[1] == 1 else 50.0
        return logits

    src = np.arange(8, dtype="int32").reshape(4, 2)
    for decode in (greedy_decode, lambda *a, **k: beam_search(*a, beam_width=3, **k)):
        calls.clear()
        out = decode(fn, src, bos_id=BOS, eos_id=EOS, max_length=10)
        assert (out.tokens[:, 0] != EOS).all() and (out.tokens[:, 1] == EOS).all()
        assert (out.tokens[:, 2:] == PAD).all()
        assert max(shape[1] for shape in calls) <= 3
        assert [len(s) for s in out.sequences(EOS)] == [1] * len(src)
    # a banned id is never generated, even where it is the best token
    def prefers_three(source_ids, prefixes):
        logits = fn(source_ids, prefixes)
        logits[:, 3] = 100.0
        return logits

    for decode in (greedy_decode, lambda *a, **k: beam_search(*a, beam_width=3, **k)):
        out = decode(prefers_three, src, bos_id=BOS, eos_id=EOS, max_length=10, banned_ids=(3,))
        assert (out.tokens != 3).all() and (out.tokens[:, 1] == EOS).all()


def test_length_normalisation_prefers_longer_when_alpha_grows():
    """'x <eos>' has p = .5, 'y y y <eos>' p = .5·.9·.9 = .405: raw log p prefers the short one, GNMT's
    normalisation with alpha = 3 the long one (-0.693/1.59 < -0.904/3.38)."""
    x, y = 3, 4

    def fn(source_ids, prefixes):
        rows = []
        for prefix in prefixes.tolist():
            if prefix == [BOS]:
                p = {x: 0.5, y: 0.5}
            elif prefix[-1] == y and len(prefix) < 4:
                p = {y: 0.9, EOS: 0.1}
            else:
                p = {EOS: 1.0}
            rows.append(np.log([1e-30] + [p.get(t, 1e-30) for t in range(1, 5)]))
        return np.array(rows)

    src = np.ones((1, 1), "int32")
    short = beam_search(fn, src, bos_id=BOS, eos_id=EOS, max_length=5, beam_width=4, alpha=0.0)
    long = beam_search(fn, src, bos_id=BOS, eos_id=EOS, max_length=5, beam_width=4, alpha=3.0)
    assert short.sequences(EOS) == [[x]]
    np.testing.assert_allclose(short.log_probs[0], np.log(0.5), rtol=1e-6)
    assert long.sequences(EOS) == [[y, y, y]]
    np.testing.assert_allclose(long.log_probs[0], np.log(0.405), rtol=1e-6)
    np.testing.assert_allclose(long.scores[0], np.log(0.405) / length_penalty(4, 3.0), rtol=1e-6)


def test_bad_arguments_are_named():
    fn = table_model(5)
    with pytest.raises(ValueError, match="source_ids"):
        greedy_decode(fn, np.ones(3, "int32"), bos_id=BOS, eos_id=EOS, max_length=3)
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(fn, np.ones((1, 2), "int32"), bos_id=BOS, eos_id=EOS, max_length=3, beam_width=0)
    with pytest.raises(ValueError, match="must differ"):
        greedy_decode(fn, np.ones((1, 2), "int32"), bos_id=EOS, eos_id=EOS, max_length=3)
    with pytest.raises(ValueError, match=r"logits \[1, vocab\]"):
        greedy_decode(lambda s, p: np.zeros((2, 5)), np.ones((1, 2), "int32"), bos_id=BOS, eos_id=EOS,
                      max_length=3)


@pytest.mark.parametrize("name", ["seq2seq_luong", "transformer_seq2seq"])
def test_model_adapter_reads_the_prefix_position(name):
    """For a seq2seq model the adapter's logits equal the model's logits at the prefix's last
    position (it applies the position-wise output layers to that position only)."""
    import kerasdl
    from kerasdl.models.text.decoding import _position_wise_head

    sizes = {"source_vocab_size": 11, "target_vocab_size": 9, "source_length": 5, "target_length": 4}
    extra = {"embedding_dim": 8, "units": 8} if name.startswith("seq2seq") else \
        {"d_model": 8, "num_heads": 2, "num_layers": 1, "ff_dim": 16}
    model = kerasdl.create_model(name, **sizes, **extra)
    head, _ = _position_wise_head(model)
    assert any(isinstance(layer, keras.layers.Dense) for layer in head)  # the vocab projection is peeled
    rng = np.random.default_rng(0)
    source = rng.integers(1, 11, (3, 5)).astype("int32")
    target_in = rng.integers(1, 9, (3, 4)).astype("int32")
    fn = seq2seq_next_token_logits(model, batch_size=2)
    for steps in (1, 3):
        padded = np.zeros_like(target_in)
        padded[:, :steps] = target_in[:, :steps]
        expected = np.asarray(model((source, padded)))[:, steps - 1]
        np.testing.assert_allclose(fn(source, target_in[:, :steps]), expected, atol=1e-5)
    with pytest.raises(ValueError, match="prefixes hold 1..4"):
        fn(source, np.ones((3, 5), "int32"))
