"""Recurrent language models: token ids ``[B, T]`` in, next-token logits ``[B, T, V]`` out.

- ``lstm_lm`` / ``gru_lm``: one :class:`RNNLanguageModel` (embedding -> stacked LSTM/GRU -> softmax
  layer); character- or word-level is only a choice of tokeniser.
- ``elmo_bilm``: :class:`ELMoBiLM`, an ELMo-style bidirectional LM (Peters et al. 2018): one token
  embedding, a forward LSTM stack predicting the next token and a backward stack predicting the
  previous one, one shared softmax layer; :meth:`ELMoBiLM.elmo_representations` mixes its layers.

TFLite: a Keras LSTM/GRU that runs as a loop (``unroll=False``) converts to TensorList ops that the
built-in op set rejects (measured: ``TensorListReserve ... requires element_shape to be static``);
``unroll=True`` converts to built-ins with parity ~1e-8. Train with ``unroll=False`` and export
:func:`unrolled` (same weights, unrolled graph).

:func:`causal_lm_cross_entropy` scores any fixed-length causal LM on a long text (overlapping
windows); ``kerasdl.models.text.ngram`` is the n-gram baseline, ``.sampling`` samples text.
"""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.text.inputs import token_ids_input

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def _check_common(vocab_size, sequence_length, num_layers, dropout, unroll):
    if int(vocab_size) < 2:
        raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
    if sequence_length is not None and int(sequence_length) < 1:
        raise ValueError(f"sequence_length must be >= 1 or None, got {sequence_length}")
    if unroll and sequence_length is None:
        raise ValueError("unroll=True needs a fixed sequence_length")
    if int(num_layers) < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


# The small test builds: unrolled, so the contract's TFLite check converts them directly. The
# contract fits random targets in 20 Adam steps; narrower LSTMs (16-32 units) fit too slowly
# (loss ratio 0.93-0.97 measured), so these are wider than the usual tiny test models.
SMALL = {"vocab_size": 24, "sequence_length": 6, "embedding_dim": 64, "units": 128,
         "num_layers": 2, "unroll": True}


@register_model("lstm_lm", defaults={"cell": "lstm"}, tags=("text", "language_model", "rnn"),
                task="language_model", small=SMALL, deployable=True)
@register_model("gru_lm", defaults={"cell": "gru"}, tags=("text", "language_model", "rnn"),
                task="language_model", small=SMALL, deployable=True)
class RNNLanguageModel(FunctionalModel):
    """Embedding -> dropout -> ``num_layers`` x (LSTM/GRU -> dropout) -> float32 logits over the
    vocabulary at every position (causal: position t sees tokens 0..t and predicts token t+1).

    Id 0 is padding; no masking runs inside the model (a causal model's outputs before a right-pad
    never see it; mask the loss with ``kerasdl.losses.MaskedSparseCategoricalCrossentropy``).
    ``sequence_length=None`` accepts any length (not with ``unroll=True``).
    ``output_norm``: a LayerNormalization before the logits. Keras' small default embedding init
    and tanh RNNs make the initial logits tiny, so training first sits on the unigram plateau;
    the norm removes it (measured, char-level Austen, GRU 256, 120 Adam steps: validation
    3.15 -> 2.82 bits/char; the same fix as the seq2seq models' ``output_norm``).
    """

    @staticmethod
    def build_graph(vocab_size=100, sequence_length=128, cell="lstm", embedding_dim=64, units=256,
                    num_layers=2, dropout=0.1, unroll=False, output_norm=True):
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
        _check_common(vocab_size, sequence_length, num_layers, dropout, unroll)
        inputs = token_ids_input(sequence_length)
        x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(inputs)
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        for i in range(num_layers):
            x = CELLS[cell](units, return_sequences=True, unroll=unroll, name=f"{cell}_{i}")(x)
            x = keras.layers.Dropout(dropout, name=f"{cell}_{i}_dropout")(x)
        if output_norm:
            x = keras.layers.LayerNormalization(name="output_norm")(x)
        outputs = keras.layers.Dense(vocab_size, dtype="float32", name="logits")(x)
        return inputs, outputs


@keras.saving.register_keras_serializable(package="kerasdl")
class ReverseTime(keras.layers.Layer):
    """Reverse a ``[B, T, ...]`` tensor along time (TFLite: the built-in REVERSE_V2)."""

    def call(self, x):
        return keras.ops.flip(x, axis=1)


@keras.saving.register_keras_serializable(package="kerasdl")
class ScalarMix(keras.layers.Layer):
    """ELMo's task-specific layer mix: ``gamma * sum_j softmax(s)_j * h_j`` over a list of equally
    shaped layer outputs ``h_j`` (s initialised to 0: the plain average; gamma to 1)."""

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not isinstance(input_shape[0], (list, tuple)):
            raise ValueError("ScalarMix takes a list of layer outputs")
        self.scalars = self.add_weight(shape=(len(input_shape),), initializer="zeros", name="scalars")
        self.gamma = self.add_weight(shape=(), initializer="ones", name="gamma")

    def call(self, layers):
        weights = keras.ops.softmax(self.scalars)
        return self.gamma * sum(weights[j] * layers[j] for j in range(len(layers)))


def _layer_output(direction: str, i: int) -> str:
    """Name of the layer whose output is layer ``i`` of ``direction`` in :class:`ELMoBiLM`."""
    return f"{direction}_residual_{i}" if i else f"{direction}_dropout_0"


def bidirectional_targets(windows):
    """``(x, y)`` for :class:`ELMoBiLM` from token windows ``[N, T+2]``: x = the middle T tokens;
    y = ``[next tokens | previous tokens]`` ``[N, 2T]`` (position t of x predicts
    ``windows[t+2]`` forward and ``windows[t]`` backward), matching the model's output layout."""
    windows = np.asarray(windows)
    if windows.ndim != 2 or windows.shape[1] < 3:
        raise ValueError(f"windows must be [N, T+2] with T >= 1, got shape {windows.shape}")
    x = windows[:, 1:-1]
    y = np.concatenate([windows[:, 2:], windows[:, :-2]], axis=1)
    return x.astype("int32"), y.astype("int32")


@register_model("elmo_bilm", tags=("text", "language_model", "rnn", "elmo"), task="language_model",
                small={**SMALL, "units": 64}, deployable=True)
class ELMoBiLM(FunctionalModel):
    """ELMo-style biLM: ids ``[B, T]`` -> logits ``[B, 2T, V]`` = forward logits (position t predicts
    token t+1) followed by backward logits (position t predicts token t-1) along the time axis.

    Shared token embedding (ELMo's char-CNN is replaced by a plain embedding); each direction is a
    stack of LSTMs, each layer's output projected back to ``embedding_dim`` (ELMo's 4096 -> 512
    projection, applied to the outputs: Keras has no LSTMP cell) with residual connections above
    the first layer; one softmax layer is shared by both directions. The targets for ``[B, 2T]``
    come from :func:`bidirectional_targets`; plain sparse cross-entropy then gives the sum of the
    forward and backward log-likelihoods (as a mean over 2T positions) that ELMo maximises.
    """

    @staticmethod
    def build_graph(vocab_size=100, sequence_length=128, embedding_dim=128, units=512, num_layers=2,
                    dropout=0.1, unroll=False):
        _check_common(vocab_size, sequence_length, num_layers, dropout, unroll)
        inputs = token_ids_input(sequence_length)
        tokens = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(inputs)
        tokens = keras.layers.Dropout(dropout, name="embedding_dropout")(tokens)
        softmax = keras.layers.Dense(vocab_size, dtype="float32", name="logits")
        directions = []
        for direction in ("forward", "backward"):
            x = ReverseTime(name="reverse_input")(tokens) if direction == "backward" else tokens
            for i in range(num_layers):
                h = keras.layers.LSTM(units, return_sequences=True, unroll=unroll,
                                      name=f"{direction}_lstm_{i}")(x)
                h = keras.layers.Dense(embedding_dim, name=f"{direction}_projection_{i}")(h)
                h = keras.layers.Dropout(dropout, name=f"{direction}_dropout_{i}")(h)
                x = keras.layers.Add(name=f"{direction}_residual_{i}")([x, h]) if i else h
            directions.append(softmax(x))
        forward, backward = directions
        outputs = keras.layers.Concatenate(axis=1, name="forward_backward_logits")(
            [forward, ReverseTime(name="reverse_output")(backward)])
        return inputs, outputs

    def representation_model(self) -> keras.Model:
        """ids -> the ``num_layers + 1`` ELMo layers, each ``[B, T, 2 * embedding_dim]``: layer 0
        the token embedding twice (as in ELMo), layer j the forward and backward layer-j states."""
        tokens = self.get_layer("embedding").output
        layers = [keras.layers.Concatenate(name="token_layer")([tokens, tokens])]
        for i in range(self.hyperparameters["num_layers"]):
            forward, backward = (self.get_layer(_layer_output(d, i)).output
                                 for d in ("forward", "backward"))
            backward = ReverseTime(name=f"backward_layer_{i}_in_order")(backward)
            layers.append(keras.layers.Concatenate(name=f"bilm_layer_{i}")([forward, backward]))
        return keras.Model(self.input, layers, name=f"{self.name}_layers")

    def elmo_representations(self, ids, layer_weights=None, gamma=1.0):
        """ELMo vectors ``[B, T, 2 * embedding_dim]``: ``gamma * sum_j softmax(w)_j * layer_j``
        (``layer_weights`` w: ``num_layers + 1`` scalars; None = the plain average). For a
        trainable mix, put :class:`ScalarMix` on :meth:`representation_model`'s outputs."""
        layers = self.representation_model()(np.asarray(ids, "int32"), training=False)
        count = len(layers)
        w = np.zeros(count) if layer_weights is None else np.asarray(layer_weights, "float64")
        if w.shape != (count,):
            raise ValueError(f"layer_weights needs {count} values (num_layers + 1), got {w.shape}")
        w = np.exp(w - w.max())
        w /= w.sum()
        return gamma * sum(float(w[j]) * np.asarray(layers[j]) for j in range(count))


def unrolled(model):
    """An unrolled twin of a recurrent LM with the same weights: the form that converts to
    built-in-only TFLite (needs a fixed ``sequence_length``)."""
    config = model.get_config()
    if "unroll" not in config:
        raise ValueError(f"{type(model).__name__} has no 'unroll' hyperparameter")
    if config["unroll"]:
        return model
    twin = type(model).from_config({**config, "unroll": True})
    twin.set_weights(model.get_weights())
    return twin


def causal_lm_cross_entropy(model, ids, *, stride: int | None = None, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats) of a fixed-length causal LM over a long id sequence.

    Windows of ``sequence_length`` tokens advance by ``stride`` (default: half a window); each
    target is scored once, in the first window that holds it after the first window's start, so
    every target but the first ``sequence_length - stride`` sees at least ``sequence_length -
    stride`` tokens of context. For :class:`ELMoBiLM` the forward half is scored.
    """
    import tensorflow as tf

    length = model.inputs[0].shape[1]
    if length is None:
        raise ValueError("causal_lm_cross_entropy needs a model with a fixed sequence_length")
    stride = stride or max(1, length // 2)
    if not 1 <= stride <= length:
        raise ValueError(f"stride must be in [1, {length}], got {stride}")
    ids = np.asarray(ids, "int32").reshape(-1)
    targets = len(ids) - 1
    if targets < length:
        raise ValueError(f"need more than sequence_length={length} tokens, got {len(ids)}")
    starts = list(range(0, targets - length + 1, stride))
    if starts[-1] != targets - length:
        starts.append(targets - length)
    first = np.array([0] + [prev + length - start for prev, start in zip(starts, starts[1:])])
    windows = np.stack([ids[s:s + length + 1] for s in starts])
    scored = np.arange(length)[None, :] >= first[:, None]  # [windows, T]

    @tf.function
    def token_losses(x, y):
        logits = model(x, training=False)[:, :length]
        return tf.nn.sparse_softmax_cross_entropy_with_logits(y, tf.cast(logits, tf.float32))

    total = 0.0
    for i in range(0, len(windows), batch_size):
        w = windows[i:i + batch_size]
        losses = token_losses(tf.constant(w[:, :-1]), tf.constant(w[:, 1:])).numpy()
        total += float(losses[scored[i:i + batch_size]].sum())
    return total / targets
