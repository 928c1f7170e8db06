"""Text classifiers (TextCNN, BiLSTM/BiGRU): architecture facts, padding invariance, cell options,
fused-LSTM TFLite conversion, the device-side tokeniser and the sentiment pipeline's --fast run.
(The shared contract in test_model_contract.py covers XLA training, round trips and fp32 TFLite.)"""
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasdl
from kerasdl.layers.recurrent import recurrent_param_count

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))
import sentiment  # noqa: E402

SMALL = {"vocab_size": 40, "sequence_length": 12, "embedding_dim": 8}


def _ids(rng, lengths, length=12, vocab=40):
    """Right-padded token ids with the given true lengths."""
    ids = rng.integers(2, vocab, (len(lengths), length)).astype("int32")
    ids[np.arange(length)[None] >= np.asarray(lengths)[:, None]] = 0
    return ids


def test_textcnn_is_kims_architecture():
    model = kerasdl.create_model("textcnn", vocab_size=1000, sequence_length=20, embedding_dim=50)
    convs = [model.get_layer(f"conv{w}") for w in (3, 4, 5)]
    assert [c.kernel_size for c in convs] == [(3,), (4,), (5,)]
    assert {c.filters for c in convs} == {100}
    assert model.get_layer("dropout").rate == 0.5
    expected = 1000 * 50 + sum(w * 50 * 100 + 100 for w in (3, 4, 5)) + 300 * 2 + 2
    assert model.count_params() == expected
    with pytest.raises(ValueError, match="exceed sequence_length"):
        kerasdl.create_model("textcnn", sequence_length=4)


@pytest.mark.parametrize("name,kind", [("bilstm_classifier", "lstm"), ("bigru_classifier", "gru")])
def test_birnn_param_count_matches_formula(name, kind):
    model = kerasdl.create_model(name, **SMALL, units=6, num_layers=2)
    gru = {"reset_after": True} if kind == "gru" else {}  # Keras' GRU default: two biases
    expected = (40 * 8 + recurrent_param_count(kind, 6, 8, bidirectional=True, **gru)
                + recurrent_param_count(kind, 6, 12, bidirectional=True, **gru) + 12 * 2 + 2)
    assert model.count_params() == expected


@pytest.mark.parametrize("name,pooling", [("bilstm_classifier", "max"), ("bilstm_classifier", "mean"),
                                          ("bilstm_classifier", "last"), ("bigru_classifier", "last")])
def test_outputs_do_not_depend_on_padding(name, pooling):
    """The same texts padded to 12 or to 20 positions give the same logits (no mask needed)."""
    rng = np.random.default_rng(0)
    short = kerasdl.create_model(name, **SMALL, units=5, pooling=pooling)
    long = kerasdl.create_model(name, **{**SMALL, "sequence_length": 20}, units=5, pooling=pooling)
    long.set_weights(short.get_weights())
    ids = _ids(rng, [12, 7, 3, 1])
    padded = np.pad(ids, ((0, 0), (0, 8)))
    np.testing.assert_allclose(long.predict(padded, verbose=0), short.predict(ids, verbose=0), atol=1e-5)
    np.testing.assert_allclose(short.predict(ids[:, ::-1] * 0, verbose=0).std(0), 0, atol=1e-6)  # empty texts


def test_bilstm_matches_masked_keras_bidirectional():
    """BiLSTM + "last" pooling = Keras' masked Bidirectional(LSTM) final states + the same head."""
    model = kerasdl.create_model("bilstm_classifier", **SMALL, units=5, pooling="last", dropout=0.0,
                                 embedding_dropout=0.0)
    ids = _ids(np.random.default_rng(1), [12, 9, 4, 2])
    inputs = keras.Input((12,), dtype="int32")
    embedding = keras.layers.Embedding(40, 8, mask_zero=True)
    bidirectional = keras.layers.Bidirectional(keras.layers.LSTM(5))
    head = keras.layers.Dense(2)
    reference = keras.Model(inputs, head(bidirectional(embedding(inputs))))
    embedding.set_weights(model.get_layer("embedding").get_weights())
    bidirectional.forward_layer.set_weights(model.get_layer("bilstm0_forward").get_weights())
    bidirectional.backward_layer.set_weights(model.get_layer("bilstm0_backward").get_weights())
    head.set_weights(model.get_layer("logits").get_weights())
    np.testing.assert_allclose(model.predict(ids, verbose=0), reference.predict(ids, verbose=0), atol=1e-5)


@pytest.mark.parametrize("name", ["bilstm_classifier", "bigru_classifier"])
def test_kerasdl_cells_give_the_same_model(name):
    ids = _ids(np.random.default_rng(2), [12, 5, 8])
    keras_cells = kerasdl.create_model(name, **SMALL, units=4)
    our_cells = kerasdl.create_model(name, **SMALL, units=4, cell="kerasdl")
    our_cells.set_weights(keras_cells.get_weights())
    np.testing.assert_allclose(our_cells.predict(ids, verbose=0), keras_cells.predict(ids, verbose=0),
                               atol=1e-5)


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="unknown pooling"):
        kerasdl.create_model("bilstm_classifier", pooling="attention")
    with pytest.raises(ValueError, match="unknown cell"):
        kerasdl.create_model("bigru_classifier", cell="cudnn")
    with pytest.raises(ValueError, match="sequence_length"):
        kerasdl.create_model("bilstm_classifier", sequence_length=0)


# ----------------------------------------------------------------------------------- TFLite


def test_bilstm_fuses_to_unidirectional_sequence_lstm():
    from kerasdl.export import TFLiteRunner, check_builtin_ops, convert

    model = kerasdl.create_model("bilstm_classifier", **SMALL, units=8)
    ids = _ids(np.random.default_rng(3), [12, 6, 3, 9])
    expected = model.predict(ids, verbose=0)
    results = {}
    for mode in ("fp32", "dynamic"):
        blob = convert(model, mode, batch_size=1)
        ops = check_builtin_ops(blob)
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops and "WHILE" not in ops
        runner = TFLiteRunner(blob)
        assert runner.input_shape == (1, 12) and runner.input_dtype == np.int32
        results[mode] = (len(blob), runner.predict(ids))
        if mode == "fp32":  # the fused op carries h/c across invokes unless they are reset
            runner.interpreter.reset_all_variables = lambda: None
            stateful = runner.predict(ids)
            assert np.abs(stateful[1:] - expected[1:]).max() > 1e-3
    np.testing.assert_allclose(results["fp32"][1], expected, atol=1e-5)
    np.testing.assert_allclose(results["dynamic"][1], expected, atol=0.05)


def test_int8_keeps_token_ids_integer():
    from kerasdl.export import TFLiteRunner, convert

    model = kerasdl.create_model("textcnn", **SMALL, filters=4)
    ids = _ids(np.random.default_rng(4), [12, 6, 3, 9] * 8)
    blob = convert(model, "int8", representative_data=ids)
    runner = TFLiteRunner(blob)
    assert runner.input_dtype == np.int32
    assert np.abs(runner.predict(ids) - model.predict(ids, verbose=0)).max() < 0.05
    with pytest.raises(ValueError, match="integer ids"):
        convert(model, "int8", representative_data=ids.astype("float32"))


# ---------------------------------------------------------------------------- tokenisation


def test_device_tokenizer_reproduces_text_vectorization(tmp_path):
    from kerasdl.data import text

    train, _ = text.rotten_tomatoes("train")
    test, _ = text.rotten_tomatoes("test")
    vectorizer = text.make_vectorizer(train[:3000], max_tokens=4000, sequence_length=24)
    text.save_vocabulary(vectorizer, tmp_path / "vocab.txt")
    tokenizer = sentiment.DeviceTokenizer.from_file(tmp_path / "vocab.txt", sequence_length=24)
    samples = list(test) + ["  Élan, UPPER-case & \"quotes\"…\ttabs!  ", "", "a" * 5]
    np.testing.assert_array_equal(tokenizer.encode(samples), np.asarray(vectorizer(samples)))
    assert tokenizer.encode(["zzqqxx"])[0, 0] == 1  # [UNK]


def test_sentiment_pipeline_fast(tmp_path):
    results = sentiment.main(["--fast", "--models", "bilstm_classifier", "--out-dir", str(tmp_path)])
    for name in ("bilstm_classifier",):  # TextCNN's export is covered by the model contract
        folder = tmp_path / f"sentiment_{name}_fast"
        assert (folder / "vocab.txt").read_text().splitlines()[1] == "[UNK]"
        meta = json.loads((folder / "metadata.json").read_text())
        for variant in ("fp32", "fp32_fused"):  # dynamic batch (plain built-ins) and fused at batch 1
            assert meta["tflite"][variant]["parity"]["max_abs_error"] <= 1e-4
        row = results[name]
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert set(row["tflite"]) == {"fp32", "dynamic", "fp32_fused", "dynamic_fused"}
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in row["tflite"]["dynamic_fused"]["ops"]
        assert row["deployed"] in row["tflite"]
    assert "bilstm_classifier" in (tmp_path / "sentiment_fast" / "results.md").read_text()
