"""Recurrent cells from their gate equations, variational dropout, parameter counts, and an LSTM
that TFLite converts into its fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` kernel.

The cells (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``) run inside ``keras.layers.RNN`` and keep
Keras' weight layout — ``kernel`` [i, g·h], ``recurrent_kernel`` [h, g·h], ``bias`` [g·h] (GRU
with ``reset_after``: [2, g·h]), gates in Keras' order (LSTM i, f, c, o; GRU z, r, h) — so weights
copy over from ``keras.layers.SimpleRNN``/``LSTM``/``GRU`` unchanged and the outputs agree.

Dropout is variational (Gal & Ghahramani 2016): one mask per sequence for the inputs and one for
the recurrent state, reused at every time step. The cells mix in Keras' ``DropoutRNNCell``, whose
masks ``keras.layers.RNN`` draws once before its loop and clears after it; at inference no mask
is drawn.
"""
from __future__ import annotations

import functools
import uuid

import keras
from keras import ops
# Keras' own mask cache (not exported under keras.layers): RNN draws the masks of cells that mix
# it in once per sequence, outside the time loop.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def recurrent_param_count(kind, units, input_dim, bidirectional=False, reset_after=False) -> int:
    """Trainable parameters of one recurrent layer: g·[h(h+i) + h] per direction.

    g = 1 (vanilla RNN), 4 (LSTM), 3 (GRU); h = ``units``, i = ``input_dim``; the h(h+i) term is
    the input and recurrent kernels, the trailing h the bias. Keras' GRU with ``reset_after=True``
    (its default, the cuDNN form) keeps separate input and recurrent biases (bias shape
    [2, 3h]), i.e. 3h more per direction: 3·[h(h+i) + 2h]. Examples: LSTM h=2, i=3 -> 48;
    BiGRU h=5, i=8 -> 420 (450 with reset_after); LSTM h=50, i=10 -> 12,200.
    """
    if kind not in GATES:
        raise ValueError(f"unknown recurrent kind {kind!r}; expected one of {sorted(GATES)}")
    if min(units, input_dim) < 1:
        raise ValueError(f"units and input_dim must be positive, got {units} and {input_dim}")
    if reset_after and kind != "gru":
        raise ValueError("reset_after applies to kind='gru' only")
    g, h = GATES[kind], units
    biases = 2 if reset_after else 1
    return (2 if bidirectional else 1) * g * (h * (h + input_dim) + biases * h)


class _RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Shared weights, config and dropout of the cells; subclasses set ``gates`` and ``call``."""

    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"units must be a positive integer, got {units}")
        for label, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{label} must be in [0, 1), got {rate}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.dropout, self.recurrent_dropout, self.seed = float(dropout), float(recurrent_dropout), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.state_size = self.units
        self.output_size = self.units

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        width = self.gates * self.units
        self.kernel = self.add_weight((input_shape[-1], width), self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, width), self.recurrent_initializer,
                                                name="recurrent_kernel")
        self.bias = (self.add_weight(self._bias_shape(), self._bias_initializer(), name="bias")
                     if self.use_bias else None)

    def _dropped(self, inputs, h, training):
        """Inputs and previous output times their per-sequence masks (training only)."""
        if training and self.dropout:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout:
            h = h * self.get_recurrent_dropout_mask(h)
        return inputs, h

    def _input_projection(self, inputs):
        z = ops.matmul(inputs, self.kernel)
        return z + self.bias if self.use_bias else z

    def get_config(self):
        ser = keras.initializers.serialize
        return {**super().get_config(), "units": self.units,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": ser(self.kernel_initializer),
                "recurrent_initializer": ser(self.recurrent_initializer),
                "bias_initializer": ser(self.bias_initializer), "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


def _single(states):
    return states[0] if isinstance(states, (list, tuple)) else states


@keras.saving.register_keras_serializable(package="kerasdl")
class SimpleRNNCell(_RecurrentCell):
    """Elman cell: h_t = act(x_t W + h_{t-1} U + b)."""

    def call(self, inputs, states, training=False):
        h_prev = _single(states)
        inputs, h_dropped = self._dropped(inputs, h_prev, training)
        h = self.activation(self._input_projection(inputs) + ops.matmul(h_dropped, self.recurrent_kernel))
        return h, [h] if isinstance(states, (list, tuple)) else h


def lstm_update(z, c_prev, activation=ops.tanh, recurrent_activation=ops.sigmoid):
    """One LSTM update from the gate pre-activations z = x W + h U + b (order i, f, c, o):
    c = f·c_prev + i·act(c~), h = o·act(c). Returns (h, c)."""
    i, f, g, o = ops.split(z, 4, axis=-1)
    c = recurrent_activation(f) * c_prev + recurrent_activation(i) * activation(g)
    return recurrent_activation(o) * activation(c), c


@keras.saving.register_keras_serializable(package="kerasdl")
class LSTMCell(_RecurrentCell):
    """LSTM cell (Hochreiter & Schmidhuber 1997, with forget gate): input, forget and output
    gates (``recurrent_activation``, sigmoid) control the cell state c; h = o·tanh(c).
    ``unit_forget_bias`` starts the forget-gate bias at 1, as Keras does."""

    gates = 4

    def __init__(self, units, recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, h = self.bias_initializer, self.units

        def initializer(shape, dtype=None):
            return ops.concatenate([base((h,), dtype), ops.ones((h,), dtype), base((2 * h,), dtype)])

        return initializer

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states
        inputs, h_dropped = self._dropped(inputs, h_prev, training)
        z = self._input_projection(inputs) + ops.matmul(h_dropped, self.recurrent_kernel)
        h, c = lstm_update(z, c_prev, self.activation, self.recurrent_activation)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias,
                "recurrent_activation": keras.activations.serialize(self.recurrent_activation)}


@keras.saving.register_keras_serializable(package="kerasdl")
class GRUCell(_RecurrentCell):
    """GRU cell (Cho et al. 2014): update gate z, reset gate r (``recurrent_activation``),
    candidate h~ = act(x W_h + (r·h) U_h + b_h), h = z·h_prev + (1 - z)·h~.

    ``reset_after=True`` (Keras' default, the cuDNN form) applies r after the recurrent product,
    h~ = act(x W_h + b_h + r·(h U_h + b'_h)), with a second, recurrent bias b' (bias [2, 3h]).
    """

    gates = 3

    def __init__(self, units, recurrent_activation="sigmoid", reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        h_prev = _single(states)
        inputs, h_dropped = self._dropped(inputs, h_prev, training)
        input_bias, recurrent_bias = 0.0, 0.0
        if self.use_bias:
            input_bias, recurrent_bias = ((self.bias[0], self.bias[1]) if self.reset_after
                                          else (self.bias, 0.0))
        x_z, x_r, x_h = ops.split(ops.matmul(inputs, self.kernel) + input_bias, 3, axis=-1)
        if self.reset_after:
            r_z, r_r, r_h = ops.split(ops.matmul(h_dropped, self.recurrent_kernel) + recurrent_bias, 3, -1)
            r = self.recurrent_activation(x_r + r_r)
            candidate = x_h + r * r_h
        else:
            u_z, u_r, u_h = ops.split(self.recurrent_kernel, 3, axis=-1)
            r_z = ops.matmul(h_dropped, u_z)
            r = self.recurrent_activation(x_r + ops.matmul(h_dropped, u_r))
            candidate = x_h + ops.matmul(r * h_dropped, u_h)
        z = self.recurrent_activation(x_z + r_z)
        h = z * h_prev + (1.0 - z) * self.activation(candidate)
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after,
                "recurrent_activation": keras.activations.serialize(self.recurrent_activation)}


# ----------------------------------------------------------------------------- fusible LSTM


def unrolled_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias, go_backwards=False):
    """Keras' LSTM over [B, T, D] ``inputs`` as a Python loop over the static T. Returns
    (last output, outputs [B, T, h], h, c, 0) — the result layout of Keras' LSTM composite."""
    import tensorflow as tf

    steps = tf.unstack(tf.matmul(inputs, kernel) + bias, axis=1)
    h, c, outputs = init_h, init_c, []
    for z in steps[::-1] if go_backwards else steps:
        h, c = lstm_update(z + tf.matmul(h, recurrent_kernel), c)
        outputs.append(h)
    return h, tf.stack(outputs, axis=1), h, c, tf.constant(0.0)


def _lstm_composite(go_backwards: bool):
    """``unrolled_lstm`` as a ``tf.function`` tagged the way TFLite's converter recognises a
    Keras LSTM: ``api_implements="lstm_<uuid>"``, ``time_major``, ``go_backwards``; arguments
    inputs, init_h, init_c, kernel, recurrent_kernel, bias; five results of which only the first
    two may be used. With a static batch the converter replaces the body by one
    UNIDIRECTIONAL_SEQUENCE_LSTM op; otherwise it converts the body into plain built-ins."""
    import tensorflow as tf

    return tf.function(functools.partial(unrolled_lstm, go_backwards=go_backwards), autograph=False,
                       experimental_attributes={"api_implements": f"lstm_{uuid.uuid4().hex}",
                                                "api_preferred_device": "CPU", "time_major": False,
                                                "go_backwards": go_backwards})


@keras.saving.register_keras_serializable(package="kerasdl")
class FusibleLSTM(keras.layers.LSTM):
    """``keras.layers.LSTM`` whose loop TFLite fuses into ``UNIDIRECTIONAL_SEQUENCE_LSTM``.

    Keras 3's LSTM runs a ``while`` loop over TensorLists, which the TFLite converter cannot lower
    to built-ins for a dynamic batch. This layer runs the same equations as one tagged
    ``tf.function`` unrolled over the static time axis (see ``_lstm_composite``; training runs
    the same loop untagged, as XLA recompiles a tagged function's gradient at every step): a SavedModel
    with a dynamic batch converts to plain built-ins (parity ~1e-8); one with a static batch
    (e.g. 1, the on-device case) converts to the fused kernel, which dynamic-range quantisation
    then shrinks ~4x. Same weights, config and training behaviour as ``keras.layers.LSTM``
    (input dropout included); masks, recurrent dropout, non-default activations, no bias or an
    unknown length fall back to Keras' loop. The fused kernel clips the cell state to ±10 and
    keeps h/c in variable tensors across invokes: reset them before each sequence
    (``Interpreter.reset_all_variables()``; ``kerasdl.models.text.rnn_classifier.stateless_runner``).
    """

    def _fusible(self, sequences, mask):
        cell = self.cell
        return (mask is None and not self.recurrent_dropout and cell.use_bias
                and sequences.shape[1] is not None and keras.backend.backend() == "tensorflow"
                and cell.activation is keras.activations.tanh
                and cell.recurrent_activation is keras.activations.sigmoid)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        import tensorflow as tf

        if not self._fusible(sequences, mask):
            return super().inner_loop(sequences, initial_state, mask, training)
        if training and self.dropout:
            sequences = sequences * ops.expand_dims(self.cell.get_dropout_mask(sequences[:, 0, :]), 1)
        if training:  # XLA recompiles a tagged function's gradient at every step: train plain
            loop = functools.partial(unrolled_lstm, go_backwards=self.go_backwards)
        else:  # one tagged function per layer: each needs its own api name
            loop = self.__dict__.get("_composite") or self.__dict__.setdefault(
                "_composite", _lstm_composite(self.go_backwards))
        weights = [tf.convert_to_tensor(v) for v in  # tensors: the composite's arguments 3-5
                   (self.cell.kernel, self.cell.recurrent_kernel, self.cell.bias)]
        last, outputs, h, c, _ = loop(sequences, *initial_state, *weights)
        return last, outputs, [h, c]


# ----------------------------------------------------------------------- padded bidirectional


@keras.saving.register_keras_serializable(package="kerasdl")
class ReversePadded(keras.layers.Layer):
    """Reverse the first ``lengths[b]`` steps of each sequence, leaving the padding in place
    (``tf.reverse_sequence``; TFLite built-in REVERSE_SEQUENCE). Applied before and after a
    forward RNN it gives the backward direction of a bidirectional RNN over right-padded
    sequences without masks: the padding is read after the real tokens, never before them."""

    def call(self, sequences, lengths):
        import tensorflow as tf

        return tf.reverse_sequence(sequences, ops.cast(lengths, "int32"), seq_axis=1, batch_axis=0)

    def compute_output_shape(self, sequences_shape, lengths_shape=None):
        return sequences_shape


def padded_bidirectional(make_layer, sequences, lengths, name="bidirectional"):
    """Forward and backward passes of ``make_layer(direction)`` (an RNN returning sequences) over
    right-padded ``sequences`` [B, T, D] with true ``lengths`` [B]; outputs at real positions
    equal a masked ``keras.layers.Bidirectional``'s. Returns [B, T, 2·units]."""
    forward = make_layer(f"{name}_forward")(sequences)
    reverse = ReversePadded(name=f"{name}_reverse_in")(sequences, lengths)
    backward = ReversePadded(name=f"{name}_reverse_out")(make_layer(f"{name}_backward")(reverse), lengths)
    return keras.layers.Concatenate(name=f"{name}_concat")([forward, backward])
