"""Transformer layers and models against independent computations: numpy positional encodings and
multi-head attention (with and without the 1/√d_k scaling), causal and padding masks by
perturbation and gradients, weight tying, decoding helpers, BERT masking statistics, and the
masked-LM pipeline's --fast run. (tests/test_model_contract.py covers training, saving and TFLite.)"""
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.layers.transformer import (PositionalEncoding, TokenAndPositionEmbedding,
                                        TransformerDecoderBlock, TransformerEncoderBlock,
                                        causal_attention_mask, scaled_dot_product_attention,
                                        sinusoidal_positional_encoding)
from kerasdl.models.text.transformer import mask_tokens, masked_positions

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- references
def numpy_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def numpy_attention(q, k, v, mask=None, scale=True):
    scores = q @ np.swapaxes(k, -1, -2)
    if scale:
        scores = scores / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    return numpy_softmax(scores) @ v


def numpy_multi_head(mha, query, value, mask=None, scale=True):
    """Vaswani eq. 4-5 from the layer's own weights: heads = attention(xW_q^i, xW_k^i, xW_v^i),
    output = concat(heads)·W_o. Kernels are [d, heads, d_head] (projections) and
    [heads, d_head, d] (output)."""
    w = {name: [np.asarray(t) for t in layer.weights] for name, layer in
         (("q", mha.query_dense), ("k", mha.key_dense), ("v", mha.value_dense), ("o", mha.output_dense))}
    out = 0
    for head in range(mha.num_heads):
        q = query @ w["q"][0][:, head] + w["q"][1][head]
        k = value @ w["k"][0][:, head] + w["k"][1][head]
        v = value @ w["v"][0][:, head] + w["v"][1][head]
        out = out + numpy_attention(q, k, v, mask, scale) @ w["o"][0][head]
    return out + w["o"][1]


# ---------------------------------------------------------------------------- layers
def test_sinusoidal_encoding_matches_the_paper_formula():
    for length, depth in ((7, 8), (5, 7)):
        table = sinusoidal_positional_encoding(length, depth)
        expected = np.zeros((length, depth))
        for pos in range(length):
            for i in range(0, depth, 2):  # i here is the even index 2i of the paper
                expected[pos, i] = np.sin(pos / 10000 ** (i / depth))
                if i + 1 < depth:
                    expected[pos, i + 1] = np.cos(pos / 10000 ** (i / depth))
        np.testing.assert_allclose(table, expected, atol=1e-6)
    assert table.dtype == np.float32
    with pytest.raises(ValueError, match="positive"):
        sinusoidal_positional_encoding(0, 4)


def test_positional_encoding_layer_adds_positions():
    x = np.random.default_rng(0).normal(size=(2, 5, 6)).astype("float32")
    fixed = PositionalEncoding(8)
    np.testing.assert_allclose(fixed(x), x + sinusoidal_positional_encoding(8, 6)[:5], atol=1e-6)
    assert not fixed.weights  # sinusoids are computed, not stored
    learned = PositionalEncoding(8, learned=True)
    out = learned(x)
    table = np.asarray(learned.position_embeddings)
    assert table.shape == (8, 6) and learned.trainable_weights
    np.testing.assert_allclose(out, x + table[:5], atol=1e-6)
    with pytest.raises(ValueError, match="longer than sequence_length=4"):
        PositionalEncoding(4)(x)


def test_token_and_position_embedding_forward_and_tied_reverse():
    ids = np.array([[3, 1, 0, 4]], "int32")
    layer = TokenAndPositionEmbedding(vocab_size=6, sequence_length=4, d_model=8)
    out = np.asarray(layer(ids))
    table = np.asarray(layer.token_embedding.embeddings)
    np.testing.assert_allclose(out, table[ids] * np.sqrt(8) + sinusoidal_positional_encoding(4, 8), atol=1e-5)
    hidden = np.random.default_rng(1).normal(size=(1, 4, 8)).astype("float32")
    np.testing.assert_allclose(layer(hidden, reverse=True), hidden @ table.T, atol=1e-5)
    with pytest.raises(ValueError, match="positions must be"):
        TokenAndPositionEmbedding(6, 4, 8, positions="rotary")


def test_scaled_dot_product_attention_matches_numpy():
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(2, 3, s, 16)).astype("float32") for s in (4, 5, 5))
    mask = rng.random((2, 1, 4, 5)) > 0.3
    mask[..., 0] = True  # every query sees at least one key
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_allclose(out, numpy_attention(q, k, v, mask), atol=1e-5)
    np.testing.assert_allclose(np.asarray(weights)[~np.broadcast_to(mask, weights.shape)], 0, atol=1e-7)
    unscaled, unscaled_weights = scaled_dot_product_attention(q, k, v, mask, scale=False)
    np.testing.assert_allclose(unscaled, numpy_attention(q, k, v, mask, scale=False), atol=1e-5)
    # Without 1/√d_k the softmax is sharper (d_k = 16: scores 4x larger): higher max weight.
    assert np.asarray(unscaled_weights).max(-1).mean() > np.asarray(weights).max(-1).mean() + 0.1


def test_keras_multi_head_attention_equals_numpy_multi_head_with_sqrt_dk_scaling():
    rng = np.random.default_rng(3)
    query = rng.normal(size=(2, 4, 12)).astype("float32")
    value = rng.normal(size=(2, 6, 12)).astype("float32")
    mha = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4)
    mha(query, value)
    for weight in mha.weights:  # non-zero biases too
        weight.assign(rng.normal(size=weight.shape, scale=0.5).astype("float32"))
    mask = rng.random((2, 4, 6)) > 0.4
    mask[..., 0] = True
    got = np.asarray(mha(query, value, attention_mask=mask))
    np.testing.assert_allclose(got, numpy_multi_head(mha, query, value, mask), atol=1e-4)
    unscaled = numpy_multi_head(mha, query, value, mask, scale=False)
    assert np.abs(got - unscaled).max() > 0.05  # the 1/√d_k factor matters
    # The teaching function, head by head, is the same computation.
    q = query @ np.asarray(mha.query_dense.kernel)[:, 0] + np.asarray(mha.query_dense.bias)[0]
    k = value @ np.asarray(mha.key_dense.kernel)[:, 0] + np.asarray(mha.key_dense.bias)[0]
    v = value @ np.asarray(mha.value_dense.kernel)[:, 0] + np.asarray(mha.value_dense.bias)[0]
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, mask)[0], numpy_attention(q, k, v, mask),
                               atol=1e-5)


def test_causal_mask_constant():
    np.testing.assert_array_equal(causal_attention_mask(3)[0], [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert causal_attention_mask(2, 4).shape == (1, 2, 4)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_self_attention_is_causal(norm_first):
    """Gradients of output t w.r.t. inputs s > t are exactly zero; w.r.t. s <= t they are not."""
    block = TransformerDecoderBlock(2, 16, cross_attention=False, dropout=0.0, norm_first=norm_first)
    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(1, 5, 8)).astype("float32"))
    w = tf.constant(rng.normal(size=(8,)).astype("float32"))  # (a plain sum of a LayerNorm output is 0)
    for t in range(5):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.reduce_sum(block(x)[:, t] * w)
        grad = np.abs(np.asarray(tape.gradient(out, x))).sum(-1)[0]
        np.testing.assert_array_equal(grad[t + 1:], 0)
        assert (grad[: t + 1] > 0).all()


def test_encoder_padding_mask_ignores_pad_keys():
    rng = np.random.default_rng(5)
    block = TransformerEncoderBlock(2, 16, dropout=0.0)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    padding = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], bool)
    perturbed = x + 10 * rng.normal(size=x.shape).astype("float32") * ~padding[..., None]
    a, b = np.asarray(block(x, padding_mask=padding)), np.asarray(block(perturbed, padding_mask=padding))
    np.testing.assert_allclose(a[padding], b[padding], atol=1e-5)
    unmasked = np.asarray(block(perturbed))
    assert np.abs(unmasked[padding] - a[padding]).max() > 1e-2  # without the mask, pads do leak in


def test_decoder_cross_attention_ignores_padded_context():
    rng = np.random.default_rng(6)
    block = TransformerDecoderBlock(2, 16, dropout=0.0)
    x = rng.normal(size=(2, 3, 8)).astype("float32")
    context = rng.normal(size=(2, 5, 8)).astype("float32")
    context_padding = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], bool)
    moved = context + 10 * rng.normal(size=context.shape).astype("float32") * ~context_padding[..., None]
    out = block(x, context=context, context_padding_mask=context_padding)
    np.testing.assert_allclose(out, block(x, context=moved, context_padding_mask=context_padding), atol=1e-5)
    assert np.abs(np.asarray(block(x, context=moved)) - np.asarray(out)).max() > 1e-2
    with pytest.raises(ValueError, match="needs a context"):
        TransformerDecoderBlock(2, 16)(x)


def test_blocks_config_round_trip_and_bad_heads():
    block = TransformerDecoderBlock(4, 32, cross_attention=False, dropout=0.2, attention_dropout=0.1,
                                    norm_first=True, activation="gelu", name="dec")
    clone = TransformerDecoderBlock.from_config(block.get_config())
    assert clone.get_config() == block.get_config()
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        TransformerEncoderBlock(3, 16)(np.zeros((1, 2, 8), "float32"))


# ---------------------------------------------------------------------------- models
def test_classifier_builds_by_the_sentiment_pipeline_names():
    model = kerasdl.create_model("transformer_classifier", vocab_size=100, sequence_length=10, num_classes=2,
                                 d_model=16, num_heads=2, num_layers=1, ff_dim=32)
    ids = np.array([[5, 6, 7, 0, 0, 0, 0, 0, 0, 0]], "int32")
    assert model(ids).shape == (1, 2)
    assert model.get_config()["vocab_size"] == 100


def test_gpt_is_causal_and_ties_its_output_to_the_embedding():
    kw = {"vocab_size": 30, "sequence_length": 8, "d_model": 16, "num_heads": 2, "num_layers": 2,
          "ff_dim": 32}
    model = kerasdl.create_model("gpt", **kw)
    ids = np.random.default_rng(7).integers(1, 30, (2, 8)).astype("int32")
    changed = ids.copy()
    changed[:, 5:] = (ids[:, 5:] % 29) + 1
    a, b = np.asarray(model(ids)), np.asarray(model(changed))
    np.testing.assert_allclose(a[:, :5], b[:, :5], atol=1e-5)
    assert np.abs(a[:, 5:] - b[:, 5:]).max() > 1e-3
    untied = kerasdl.create_model("gpt", tie_embeddings=False, **kw)
    assert untied.count_params() - model.count_params() == 16 * 30 + 30  # the lm_head Dense
    hidden = keras.Model(model.input, model.get_layer("decoder_final_norm").output)(ids)
    table = np.asarray(model.get_layer("decoder_embedding").token_embedding.embeddings)
    np.testing.assert_allclose(a, np.asarray(hidden) @ table.T, atol=1e-4)
    # next_token_logits: the logits at the prefix's last position; long prefixes slide.
    np.testing.assert_allclose(model.next_token_logits(ids[:, :3]), a[:, 2], atol=1e-4)
    longer = np.concatenate([ids[:, :2], ids], axis=1)
    np.testing.assert_allclose(model.next_token_logits(longer), a[:, -1], atol=1e-4)


def test_seq2seq_next_token_logits_match_the_full_forward():
    model = kerasdl.create_model("transformer_seq2seq", source_vocab_size=20, target_vocab_size=25,
                                 source_length=6, target_length=5, d_model=16, num_heads=2, num_layers=1,
                                 ff_dim=32)
    rng = np.random.default_rng(8)
    source = rng.integers(1, 20, (3, 6)).astype("int32")
    source[:, 4:] = 0
    target = rng.integers(1, 25, (3, 5)).astype("int32")
    full = np.asarray(model([source, target]))
    assert full.shape == (3, 5, 25)
    for t in (1, 3, 5):
        np.testing.assert_allclose(model.next_token_logits(source, target[:, :t]), full[:, t - 1], atol=1e-4)
    with pytest.raises(ValueError, match="1 <= t <= 5"):
        model.next_token_logits(source, target[:, :0])


def test_mask_tokens_statistics():
    rng = np.random.default_rng(9)
    vocab, mask_id = 1000, 999
    ids = rng.integers(2, mask_id, (400, 512)).astype("int32")
    ids[:, 400:] = 0  # padding
    ids[:, 390:400] = 1  # [UNK], excluded below
    inputs, labels = (np.asarray(t) for t in mask_tokens(ids, mask_id=mask_id, vocab_size=vocab, seed=(9, 0),
                                                         special_ids=(1,)))
    chosen = labels != 0
    eligible = ids > 1
    assert not chosen[~eligible].any()
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(inputs[~chosen], ids[~chosen])  # untouched outside the chosen
    assert abs(chosen.sum() / eligible.sum() - 0.15) < 0.005  # ~23k chosen: sd 0.0006
    masked = inputs[chosen] == mask_id
    kept = inputs[chosen] == ids[chosen]
    random = ~masked & ~kept
    n = chosen.sum()
    assert abs(masked.sum() / n - 0.8) < 0.015
    assert abs(random.sum() / n - 0.1) < 0.01  # (a random draw equal to the original: p = 1/997)
    assert abs(kept.sum() / n - 0.1) < 0.01
    replacements = inputs[chosen][random]
    assert replacements.min() >= 2 and replacements.max() < mask_id  # never pad, [UNK] or [MASK]
    # The seed decides: the same seed repeats the mask, another one draws a new one.
    same, _ = mask_tokens(ids, mask_id=mask_id, vocab_size=vocab, seed=(9, 0), special_ids=(1,))
    other, _ = mask_tokens(ids, mask_id=mask_id, vocab_size=vocab, seed=(10, 0), special_ids=(1,))
    np.testing.assert_array_equal(same, inputs)
    assert (np.asarray(other) != inputs).any()
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocab_size=10"):
        mask_tokens(ids, mask_id=9, vocab_size=10, seed=(0, 0))
    with pytest.raises(ValueError, match="integer"):
        mask_tokens(ids.astype(float), mask_id=mask_id, vocab_size=vocab, seed=(0, 0))


def test_masked_positions_feed_the_prediction_model():
    labels = np.array([[0, 5, 0, 7, 0, 9], [0, 0, 0, 0, 0, 4]], "int32")
    positions, position_labels = (np.asarray(t) for t in masked_positions(labels, 2))
    np.testing.assert_array_equal(positions, [[1, 3], [5, 0]])  # BERT: at most P, first ones kept
    np.testing.assert_array_equal(position_labels, [[5, 7], [4, 0]])  # an unused slot is ignored (0)
    with pytest.raises(ValueError, match="num_predictions"):
        masked_positions(labels, 7)
    for tie in (True, False):
        model = kerasdl.create_model("bert_mlm", vocab_size=20, sequence_length=6, d_model=16, num_heads=2,
                                     num_layers=1, ff_dim=32, tie_embeddings=tie)
        ids = np.random.default_rng(11).integers(1, 20, (2, 6)).astype("int32")
        full = np.asarray(model(ids))
        gathered = np.asarray(model.prediction_model(2)([ids, positions]))
        expected = np.take_along_axis(full, positions[..., None], axis=1)
        np.testing.assert_allclose(gathered, expected, atol=1e-5)
        assert len(model.prediction_model(2).trainable_weights) == len(model.trainable_weights)  # shared


def test_masked_loss_counts_only_masked_positions():
    from kerasdl.losses import MaskedSparseCategoricalCrossentropy

    rng = np.random.default_rng(10)
    ids = rng.integers(2, 9, (4, 10))
    labels = np.asarray(mask_tokens(ids, mask_id=9, vocab_size=10, seed=(1, 2), rate=0.3)[1])
    logits = rng.normal(size=(4, 10, 10)).astype("float32")
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    chosen = labels != 0
    expected = -log_p[chosen, labels[chosen]].mean()
    got = float(MaskedSparseCategoricalCrossentropy()(labels, logits))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# ---------------------------------------------------------------------------- pipeline
def test_masked_lm_pipeline_fast(tmp_path):
    pytest.importorskip("kerasdl.data.text")
    script = ROOT / "pipelines" / "masked_lm.py"
    subprocess.run([sys.executable, str(script), "--fast", "--out-dir", str(tmp_path)], check=True,
                   capture_output=True, text=True)
    run = tmp_path / "masked_lm_fast"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test"]["masked_tokens"] > 100
    for key in ("model", "unigram"):
        assert 0 <= summary["test"][key]["accuracy"] <= 1 and summary["test"][key]["perplexity"] > 1
    assert summary["examples"] and all("[MASK]" in e["text"] for e in summary["examples"])
    for name in ("model.keras", "vocabulary.txt"):
        assert (run / name).exists(), name
