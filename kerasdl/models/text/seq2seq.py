"""RNN encoder-decoder (Sutskever et al. 2014) with Bahdanau (2015) or Luong (2015) attention.

Task "seq2seq": inputs ``(source ids [B, S], target_in ids [B, T])`` -> logits ``[B, T, target_vocab]``,
int32 ids with 0 = padding. Training uses teacher forcing: ``target_in`` is the target shifted right
behind ``<bos>`` (:func:`teacher_forcing`); decoding (greedy / beam search) lives in
``kerasdl.models.text.decoding``.

- Encoder: embedding -> LSTM/GRU (optionally bidirectional, then a tanh bridge to the decoder's
  initial state), masked on source padding.
- ``attention=None``: the decoder RNN starts from the encoder's final state (Sutskever).
- ``attention="luong"``: the decoder RNN runs over the whole target, then each output h_t attends
  over the encoder outputs (``keras.layers.Attention``; score "dot" h_tᵀh_s or "general" h_tᵀW_a h_s),
  h̃_t = tanh(W_c[c_t; h_t]) -> logits.
- ``attention="bahdanau"``: step t attends with the *previous* decoder state s_{t-1}
  (``keras.layers.AdditiveAttention`` on W_q s_{t-1} and W_k h_j, scored by v·tanh(·)), and the
  context enters the RNN input; the step loop is :class:`BahdanauDecoder`, unrolled over the fixed
  target length (like ``unroll=True``: XLA- and TFLite-friendly). Output: a tanh "deep output"
  layer over [s_t; c_t; E y_{t-1}] (the paper uses maxout) -> logits.
- ``output_norm`` (default on): a LayerNormalization on those output features before the logits.
  Without it every signal starts tiny (Keras' embedding init U(±0.05) feeding tanh RNNs and tanh
  output layers; measured at init on real pairs: embedding std 0.03, RNN states 0.01, output
  features 0.016, logits 0.005, vs 0.15 with it), so the logits are at first the output bias alone and
  Adam sits on the unigram plateau for hundreds of steps on real data (measured on the translation
  data: biGRU Bahdanau (embedding 32, units 64) val loss 5.07 after 300 steps without it, 2.00 with it;
  the Transformer, with √d-scaled embeddings and LayerNorm, never had the plateau).

Attention never weights padded source positions (their weights are exactly 0), and the encoder's
RNN skips them. :func:`attention_model` gives a twin sharing the weights that also returns the
attention weights ``[B, T, S]`` for heat maps.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.text.inputs import token_ids_input

CELLS = {"lstm": (keras.layers.LSTM, keras.layers.LSTMCell), "gru": (keras.layers.GRU, keras.layers.GRUCell)}
ATTENTIONS = ("bahdanau", "luong", None)
LUONG_SCORES = ("dot", "general")


def teacher_forcing(targets, bos_id: int, pad_id: int = 0):
    """``(target_in, target_out)`` from padded targets ``[B, T]`` that end in ``<eos>``:
    ``target_in = <bos> + targets[:, :-1]`` (positions after the sequence stay ``pad_id``),
    ``target_out = targets``."""
    targets = np.asarray(targets)
    if targets.ndim != 2 or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must be integer ids [batch, length], got {targets.dtype} {targets.shape}")
    target_in = np.full_like(targets, pad_id)
    target_in[:, 0] = bos_id
    target_in[:, 1:] = targets[:, :-1]
    target_in[:, 1:][targets[:, :-1] == pad_id] = pad_id
    return target_in, targets


@keras.saving.register_keras_serializable(package="kerasdl")
class BahdanauDecoder(keras.layers.Layer):
    """An LSTM/GRU decoder whose step t attends over the encoder outputs with its previous state.

    ``call(inputs [B, T, E], values [B, S, D], initial_state, source_mask [B, S])`` returns
    ``(states [B, T, units], contexts [B, T, D], weights [B, T, S])``. Step t:
    ``e_tj = vᵀ tanh(W_q s_{t-1} + W_k h_j)`` (masked), ``α_t = softmax(e_t)``, ``c_t = Σ_j α_tj h_j``,
    ``s_t = cell([x_t; c_t], s_{t-1})``. T must be static; the loop is unrolled.
    """

    def __init__(self, units, cell="gru", attention_units=None, **kwargs):
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.units, self.cell_type = int(units), cell
        self.attention_units = int(attention_units or units)
        self.cell = CELLS[cell][1](self.units, name="cell")
        self.query_projection = keras.layers.Dense(self.attention_units, use_bias=False, name="query_projection")
        self.key_projection = keras.layers.Dense(self.attention_units, use_bias=False, name="key_projection")
        self.attention = keras.layers.AdditiveAttention(use_scale=True, name="additive_attention")

    def build(self, inputs_shape, values_shape, initial_state_shape=None, source_mask_shape=None):
        self.query_projection.build((inputs_shape[0], self.units))
        self.key_projection.build(values_shape)
        query = (inputs_shape[0], 1, self.attention_units)
        self.attention.build([query, values_shape, (*values_shape[:2], self.attention_units)])
        self.cell.build((inputs_shape[0], inputs_shape[-1] + values_shape[-1]))

    def call(self, inputs, values, initial_state, source_mask=None, training=False):
        steps = inputs.shape[1]
        if steps is None:
            raise ValueError("BahdanauDecoder unrolls over the target length: it must be static")
        states = list(initial_state)
        keys = self.key_projection(values)
        mask = None if source_mask is None else [None, source_mask]
        outputs, contexts, weights = [], [], []
        for t in range(steps):
            query = ops.expand_dims(self.query_projection(states[0]), 1)
            context, alpha = self.attention([query, values, keys], mask=mask, return_attention_scores=True,
                                            training=training)
            context = ops.squeeze(context, 1)
            output, states = self.cell(ops.concatenate([inputs[:, t], context], -1), states, training=training)
            states = list(states) if isinstance(states, (list, tuple)) else [states]
            outputs.append(output)
            contexts.append(context)
            weights.append(ops.squeeze(alpha, 1))
        return ops.stack(outputs, 1), ops.stack(contexts, 1), ops.stack(weights, 1)

    def compute_output_spec(self, inputs, values, initial_state, source_mask=None, training=False):
        batch, steps = inputs.shape[:2]
        spec = lambda *shape: keras.KerasTensor(shape, dtype=self.compute_dtype)  # noqa: E731
        return (spec(batch, steps, self.units), spec(batch, steps, values.shape[-1]),
                spec(batch, steps, values.shape[1]))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "cell": self.cell_type,
                "attention_units": self.attention_units}


def reverse_valid(x, lengths):
    """Reverse the first ``lengths[b]`` steps of each row of ``x [B, S, ...]``, padding left in place
    (``tf.reverse_sequence`` in portable ops)."""
    steps = ops.expand_dims(ops.arange(x.shape[1], dtype="int32"), 0)
    lengths = ops.expand_dims(ops.cast(lengths, "int32"), 1)
    index = ops.where(ops.less(steps, lengths), ops.subtract(ops.subtract(lengths, 1), steps), steps)
    return ops.take_along_axis(x, ops.expand_dims(index, -1) + ops.zeros_like(x, "int32"), axis=1)


def _encode(source_ids, source_mask, *, source_vocab_size, embedding_dim, units, cell, bidirectional, dropout,
            unroll):
    """Encoder outputs ``[B, S, units·(1 + bidirectional)]`` and the decoder's initial state (a list).

    The backward direction runs forward over each row's reversed tokens (:func:`reverse_valid`), so
    padding stays at the end: Keras' ``Bidirectional`` with a mask and ``unroll=True`` misplaces the
    backward outputs (Keras 3.15; its final states are right).
    """
    x = keras.layers.Embedding(source_vocab_size, embedding_dim, name="source_embedding")(source_ids)
    x = keras.layers.Dropout(dropout, name="source_dropout")(x)

    def rnn(name):
        return CELLS[cell][0](units, return_sequences=True, return_state=True, unroll=unroll, name=name)

    outputs, *states = rnn("encoder_rnn")(x, mask=source_mask)
    if not bidirectional:
        return outputs, states
    lengths = ops.sum(ops.cast(source_mask, "int32"), axis=1)
    backward, *backward_states = rnn("encoder_rnn_backward")(reverse_valid(x, lengths), mask=source_mask)
    outputs = keras.layers.Concatenate(name="encoder_outputs")([outputs, reverse_valid(backward, lengths)])
    return outputs, [keras.layers.Dense(units, activation="tanh", name=f"bridge{i}")(  # joins both directions
        keras.layers.Concatenate(name=f"bridge{i}_concat")([f, b])) for i, (f, b) in enumerate(zip(states, backward_states))]


# Big enough that 20 Adam steps visibly fit the contract's random batch; dropout off for that.
SMALL = {"source_vocab_size": 24, "target_vocab_size": 16, "source_length": 7, "target_length": 6,
         "embedding_dim": 32, "units": 64, "dropout": 0.0}


@register_model("seq2seq_lstm", tags=("text", "seq2seq"), defaults={"cell": "lstm", "attention": None},
                task="seq2seq", small=SMALL)
@register_model("seq2seq_bahdanau", tags=("text", "seq2seq", "attention"),
                defaults={"cell": "gru", "attention": "bahdanau", "bidirectional": True},
                task="seq2seq", small=SMALL)
@register_model("seq2seq_luong", tags=("text", "seq2seq", "attention"),
                defaults={"cell": "lstm", "attention": "luong", "score": "general"},
                task="seq2seq", small=SMALL)
class Seq2Seq(FunctionalModel):
    """Encoder-decoder over token ids with optional Bahdanau or Luong attention (see the module doc).

    Args: ``source_vocab_size``/``target_vocab_size`` (ids, 0 = padding), ``source_length``/
    ``target_length`` (fixed), ``embedding_dim``, ``units`` (RNN width), ``cell`` ("lstm"/"gru"),
    ``attention`` ("bahdanau"/"luong"/None), ``score`` (Luong: "general"/"dot"), ``bidirectional``
    (encoder), ``dropout`` (on embeddings and before the output layer), ``output_norm``
    (LayerNormalization before the logits; see the module doc), ``unroll`` (unroll the Keras
    RNNs over the fixed lengths: the TFLite conversion is then built-ins only — a while loop needs
    Flex TensorList ops — at the cost of a graph that grows with the length).
    """

    @staticmethod
    def build_graph(source_vocab_size=8000, target_vocab_size=8000, source_length=24, target_length=24,
                    embedding_dim=128, units=256, cell="lstm", attention="bahdanau", score="general",
                    bidirectional=False, dropout=0.1, output_norm=True, unroll=True):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if score not in LUONG_SCORES:
            raise ValueError(f"score must be one of {LUONG_SCORES}, got {score!r}")
        if attention == "luong" and score == "dot" and bidirectional:
            raise ValueError("Luong 'dot' scoring needs encoder and decoder widths to match; "
                             "use score='general' with a bidirectional encoder")
        for key, value in (("source_vocab_size", source_vocab_size), ("target_vocab_size", target_vocab_size),
                           ("source_length", source_length), ("target_length", target_length)):
            if int(value) < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")

        source = token_ids_input(source_length, name="source")
        target_in = token_ids_input(target_length, name="target_in")
        source_mask = ops.not_equal(source, 0)
        encoded, states = _encode(source, source_mask, source_vocab_size=source_vocab_size,
                                  embedding_dim=embedding_dim, units=units, cell=cell,
                                  bidirectional=bidirectional, dropout=dropout, unroll=unroll)
        y = keras.layers.Embedding(target_vocab_size, embedding_dim, name="target_embedding")(target_in)
        y = keras.layers.Dropout(dropout, name="target_dropout")(y)

        if attention == "bahdanau":
            decoded, contexts, _ = BahdanauDecoder(units, cell=cell, name="decoder")(
                y, encoded, states, source_mask)
            features = keras.layers.Dense(units, activation="tanh", name="deep_output")(  # Bahdanau's t̃_i
                keras.layers.Concatenate(name="output_features")([decoded, contexts, y]))
        else:
            rnn = CELLS[cell][0](units, return_sequences=True, unroll=unroll, name="decoder_rnn")
            decoded = rnn(y, initial_state=states)
            features = decoded
            if attention == "luong":
                keys = encoded if score == "dot" else keras.layers.Dense(
                    units, use_bias=False, name="luong_general")(encoded)
                contexts, _ = keras.layers.Attention(score_mode="dot", name="luong_attention")(
                    [decoded, encoded, keys], mask=[None, source_mask], return_attention_scores=True)
                features = keras.layers.Dense(units, activation="tanh", use_bias=False, name="attentional")(
                    keras.layers.Concatenate(name="context_and_state")([contexts, decoded]))
        if output_norm:
            features = keras.layers.LayerNormalization(name="output_norm")(features)
        features = keras.layers.Dropout(dropout, name="output_dropout")(features)
        logits = keras.layers.Dense(target_vocab_size, dtype="float32", name="logits")(features)
        return (source, target_in), logits


def attention_model(model: keras.Model) -> keras.Model:
    """A twin of a Bahdanau/Luong ``Seq2Seq`` sharing its weights: ``(source, target_in) ->
    (logits [B, T, V], attention weights [B, T, S])``; each weight row sums to 1 over the source."""
    for name, index in (("decoder", 2), ("luong_attention", 1)):
        try:
            layer = model.get_layer(name)
        except ValueError:
            continue
        return keras.Model(model.inputs, [model.outputs[0], layer.output[index]], name=f"{model.name}_attention")
    raise ValueError(f"{model.name!r} has no attention layer (built with attention=None?)")
