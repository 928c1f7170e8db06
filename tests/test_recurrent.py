"""kerasdl.layers.recurrent: gate-equation cells equal Keras' layers given the same weights,
variational dropout keeps one mask per sequence, parameter counts, the fusible LSTM, and gradient
clipping in the Trainer."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.layers.recurrent import (FusibleLSTM, GRUCell, LSTMCell, ReversePadded, SimpleRNNCell,
                                      padded_bidirectional, recurrent_param_count)

B, T, I, H = 3, 7, 5, 4


def _sequence(seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, I)).astype("float32")


def _randomise(layer, seed=1):
    """Random weights (biases included, so they are tested too)."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])


CASES = {  # name -> (Keras reference layer, kerasdl cell)
    "simple_rnn": (lambda **kw: keras.layers.SimpleRNN(H, **kw), lambda: SimpleRNNCell(H)),
    "lstm": (lambda **kw: keras.layers.LSTM(H, **kw), lambda: LSTMCell(H)),
    "gru_reset_after": (lambda **kw: keras.layers.GRU(H, reset_after=True, **kw),
                        lambda: GRUCell(H, reset_after=True)),
    "gru_reset_before": (lambda **kw: keras.layers.GRU(H, reset_after=False, **kw),
                         lambda: GRUCell(H, reset_after=False)),
}


@pytest.mark.parametrize("case", CASES)
def test_cells_match_keras_layers(case):
    make_reference, make_cell = CASES[case]
    x = _sequence()
    reference = make_reference(return_sequences=True, return_state=True)
    ours = keras.layers.RNN(make_cell(), return_sequences=True, return_state=True)
    reference(x), ours(x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in reference.get_weights()]
    _randomise(reference)
    ours.set_weights(reference.get_weights())
    expected, got = reference(x), ours(x)
    assert len(expected) == len(got)  # sequence + final state(s): h (and c for LSTM)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, atol=1e-5)


def test_cells_match_keras_with_mask_and_go_backwards():
    x = _sequence(3)
    mask = np.arange(T)[None] < np.array([[T], [4], [1]])
    reference = keras.layers.LSTM(H, return_sequences=True, go_backwards=True)
    ours = keras.layers.RNN(LSTMCell(H), return_sequences=True, go_backwards=True)
    reference(x), ours(x)
    _randomise(reference, 2)
    ours.set_weights(reference.get_weights())
    np.testing.assert_allclose(ours(x, mask=mask), reference(x, mask=mask), atol=1e-5)


def _identity_rnn(dropout=0.0, recurrent_dropout=0.0):
    """A linear SimpleRNN cell h_t = x_t·I_in + h_{t-1}·I_rec: its outputs expose the masks."""
    cell = SimpleRNNCell(I, activation=None, use_bias=False, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=7)
    layer = keras.layers.RNN(cell, return_sequences=True)
    layer.build((None, T, I))
    return layer, cell


def test_variational_input_dropout_uses_one_mask_per_sequence():
    layer, cell = _identity_rnn(dropout=0.5)
    cell.kernel.assign(np.eye(I, dtype="float32"))
    cell.recurrent_kernel.assign(np.zeros((I, I), "float32"))
    x = np.ones((16, T, I), "float32")
    out = np.asarray(layer(x, training=True))  # out[:, t] = mask / (1 - rate)
    np.testing.assert_allclose(out, np.repeat(out[:, :1], T, axis=1))  # same mask at every step
    assert set(np.unique(out)) == {0.0, 2.0}
    assert not np.allclose(out[0, 0], out[1, 0]) or not np.allclose(out[2, 0], out[3, 0])
    second = np.asarray(layer(x, training=True))  # a fresh mask for the next batch
    assert not np.array_equal(out, second)
    np.testing.assert_array_equal(layer(x, training=False), x)  # off at inference


def test_variational_recurrent_dropout_uses_one_mask_per_sequence():
    layer, cell = _identity_rnn(recurrent_dropout=0.5)
    cell.kernel.assign(np.zeros((I, I), "float32"))
    cell.recurrent_kernel.assign(np.eye(I, dtype="float32"))
    x = np.ones((16, T, I), "float32")
    initial = np.ones((16, I), "float32")
    out = np.asarray(layer(x, initial_state=[initial], training=True))
    mask = out[:, 0] / 2.0  # h_1 = m·h_0 / (1 - rate)
    assert set(np.unique(mask)) == {0.0, 1.0}
    for t in range(T):  # h_t = (m / (1 - rate))^(t+1): the same m at every step
        np.testing.assert_allclose(out[:, t], mask * 2.0 ** (t + 1))
    np.testing.assert_array_equal(layer(x, initial_state=[initial], training=False),
                                  np.ones((16, T, I)))


def test_dropout_trains_under_xla():
    layer = keras.layers.RNN(LSTMCell(H, dropout=0.3, recurrent_dropout=0.3, seed=1))
    x = tf.constant(_sequence())
    layer(x)

    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, training=True) ** 2)
        return tape.gradient(loss, layer.trainable_variables)

    assert all(np.isfinite(g).all() for g in step(x))


@pytest.mark.parametrize("cell", [SimpleRNNCell(3, dropout=0.1, seed=2), LSTMCell(3, unit_forget_bias=False),
                                  GRUCell(3, reset_after=False, recurrent_dropout=0.2)])
def test_cell_config_round_trips(cell):
    clone = type(cell).from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()


def test_lstm_forget_bias_starts_at_one():
    cell = LSTMCell(H)
    keras.layers.RNN(cell)(_sequence())
    np.testing.assert_array_equal(np.asarray(cell.bias).reshape(4, H), [[0] * H, [1] * H, [0] * H, [0] * H])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="dropout"):
        LSTMCell(4, dropout=1.0)
    with pytest.raises(ValueError, match="units"):
        GRUCell(0)
    with pytest.raises(ValueError, match="unknown recurrent kind"):
        recurrent_param_count("transformer", 4, 4)
    with pytest.raises(ValueError, match="reset_after"):
        recurrent_param_count("lstm", 4, 4, reset_after=True)


# ------------------------------------------------------------------------ parameter counts


def _keras_params(layer, input_dim):
    layer.build((None, None, input_dim))
    return layer.count_params()


def test_param_count_formula():
    assert recurrent_param_count("lstm", 2, 3) == 48  # 4·[2·(2+3) + 2]
    for kind, make in (("rnn", keras.layers.SimpleRNN), ("lstm", keras.layers.LSTM)):
        for h, i in ((2, 3), (7, 11)):
            assert recurrent_param_count(kind, h, i) == _keras_params(make(h), i)
            assert recurrent_param_count(kind, h, i, bidirectional=True) == _keras_params(
                keras.layers.Bidirectional(make(h)), i)


def test_curriculum_stacked_bigru_lstm_is_12620():
    """BiGRU(h=5) over 8 features, then LSTM(h=50) over its 10 outputs: 420 + 12,200."""
    def stack(reset_after):
        inputs = keras.Input((None, 8))
        gru = keras.layers.GRU(5, reset_after=reset_after, return_sequences=True)
        x = keras.layers.Bidirectional(gru)(inputs)
        return keras.Model(inputs, keras.layers.LSTM(50)(x))

    assert recurrent_param_count("gru", 5, 8, bidirectional=True) == 420
    assert recurrent_param_count("lstm", 50, 10) == 12200
    assert stack(reset_after=False).count_params() == 420 + 12200 == 12620
    # Keras' default GRU (reset_after=True) has a second bias: 3h more per direction
    assert recurrent_param_count("gru", 5, 8, bidirectional=True, reset_after=True) == 420 + 2 * 3 * 5
    assert stack(reset_after=True).count_params() == 12650
    cell = GRUCell(5, reset_after=True)
    keras.layers.RNN(cell)(np.zeros((1, 2, 8), "float32"))
    assert sum(int(np.prod(w.shape)) for w in cell.weights) == 225


# ----------------------------------------------------------------------------- fusible LSTM


def test_fusible_lstm_equals_keras_lstm():
    x = _sequence(4)
    for kwargs in ({"return_sequences": True}, {"go_backwards": True, "return_state": True}):
        reference, ours = keras.layers.LSTM(H, **kwargs), FusibleLSTM(H, **kwargs)
        reference(x), ours(x)
        _randomise(reference, 5)
        ours.set_weights(reference.get_weights())
        for e, g in zip(tf.nest.flatten(reference(x)), tf.nest.flatten(ours(x))):
            np.testing.assert_allclose(g, e, atol=1e-5)
    mask = np.arange(T)[None] < np.array([[T], [2], [5]])  # masks take Keras' own loop
    np.testing.assert_allclose(ours(x, mask=mask), reference(x, mask=mask), atol=1e-5)


def test_reverse_padded_and_padded_bidirectional_match_masked_keras():
    x = _sequence(6)
    lengths = np.array([T, 4, 1], "int32")
    reversed_x = np.asarray(ReversePadded()(x, lengths))
    for b, n in enumerate(lengths):
        np.testing.assert_array_equal(reversed_x[b, :n], x[b, :n][::-1])
        np.testing.assert_array_equal(reversed_x[b, n:], x[b, n:])

    layers = {}

    def make(name):
        layers[name] = FusibleLSTM(H, return_sequences=True, name=name)
        return layers[name]

    ours = np.asarray(padded_bidirectional(make, tf.constant(x), tf.constant(lengths), name="bi"))
    reference = keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True))
    mask = np.arange(T)[None] < lengths[:, None]
    reference(x, mask=mask)
    reference.forward_layer.set_weights(layers["bi_forward"].get_weights())
    reference.backward_layer.set_weights(layers["bi_backward"].get_weights())
    expected = np.asarray(reference(x, mask=mask))
    np.testing.assert_allclose(ours[mask], expected[mask], atol=1e-5)


# ------------------------------------------------------------------------- gradient clipping


def test_trainer_global_clipnorm_clips_the_update():
    from kerasdl.train import Trainer

    keras.utils.set_random_seed(0)
    inputs = keras.Input((T, I))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.RNN(LSTMCell(H))(inputs)))
    x, y = _sequence(8), np.array([0, 1, 1], "int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        value = loss(y, model(x, training=True))
    grads = [np.asarray(g) for g in tape.gradient(value, model.trainable_variables)]
    norm = np.sqrt(sum((g ** 2).sum() for g in grads))
    clip = norm / 10  # far below the raw norm, so clipping must act
    before = [np.asarray(v) for v in model.trainable_variables]

    trainer = Trainer(model, loss, keras.optimizers.SGD(1.0, global_clipnorm=clip), jit_compile=False,
                      verbose=0)
    trainer.train_step((tf.constant(x), tf.constant(y)))
    for w0, g, w1 in zip(before, grads, model.trainable_variables):
        np.testing.assert_allclose(np.asarray(w1), w0 - g * clip / norm, atol=1e-6)
    update = np.sqrt(sum(((np.asarray(w1) - w0) ** 2).sum()
                         for w0, w1 in zip(before, model.trainable_variables)))
    np.testing.assert_allclose(update, clip, rtol=1e-4)
    trainer.close()
