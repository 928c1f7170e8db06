"""Bidirectional LSTM / GRU sentence classifiers over right-padded token ids.

Token ids -> embedding -> ``num_layers`` bidirectional recurrent layers -> pooling over the real
(non-padding) positions -> dropout -> dense logits. Padding needs no Keras mask: the backward
direction runs a forward RNN over each sequence reversed within its length
(``kerasdl.layers.recurrent.padded_bidirectional``), so both directions see real tokens before
padding, and pooling ignores padded positions. Outputs therefore do not depend on how much
padding follows a text, and the graph stays mask-free, XLA-compilable and TFLite-convertible.

``cell="keras"`` uses ``FusibleLSTM`` (``keras.layers.LSTM`` whose loop TFLite fuses into
UNIDIRECTIONAL_SEQUENCE_LSTM at a static batch) or ``keras.layers.GRU(unroll=True)`` (TFLite has
no fused GRU); ``cell="kerasdl"`` runs the gate-equation cells of ``kerasdl.layers.recurrent``
in an unrolled ``keras.layers.RNN`` (same weights layout, same outputs).
"""
from __future__ import annotations

import keras
from keras import ops

from kerasdl.layers.recurrent import FusibleLSTM, GRUCell, LSTMCell, padded_bidirectional
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.text.inputs import token_ids_input

POOLINGS = ("max", "mean", "last")
CELLS = ("keras", "kerasdl")
KINDS = ("lstm", "gru")


@keras.saving.register_keras_serializable(package="kerasdl")
class TokenLengths(keras.layers.Layer):
    """Number of non-padding ids per row (int32), at least 1 so an empty text still has a
    position to pool over."""

    def call(self, ids):
        return ops.maximum(ops.sum(ops.cast(ops.not_equal(ids, 0), "int32"), axis=1), 1)

    def compute_output_shape(self, ids_shape):
        return ids_shape[:1]


@keras.saving.register_keras_serializable(package="kerasdl")
class PaddedPooling(keras.layers.Layer):
    """Pool [B, T, D] bidirectional outputs over the first ``lengths`` positions.

    ``mode``: "max" / "mean" over real positions, or "last": the final state of each direction
    (forward half at position length-1, backward half at position 0).
    """

    def __init__(self, mode="max", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(f"unknown pooling {mode!r}; expected one of {POOLINGS}")
        self.mode = mode

    def call(self, sequences, lengths):
        steps = sequences.shape[1]
        positions = ops.arange(steps, dtype="int32")[None, :]
        lengths = ops.expand_dims(ops.cast(lengths, "int32"), 1)
        if self.mode == "last":
            half = sequences.shape[-1] // 2
            at_end = ops.cast(ops.equal(positions, lengths - 1), sequences.dtype)[..., None]
            forward = ops.sum(sequences[..., :half] * at_end, axis=1)
            return ops.concatenate([forward, sequences[:, 0, half:]], axis=-1)
        valid = ops.expand_dims(ops.less(positions, lengths), -1)
        if self.mode == "max":
            return ops.max(ops.where(valid, sequences, ops.cast(-1e9, sequences.dtype)), axis=1)
        total = ops.sum(ops.where(valid, sequences, ops.zeros_like(sequences)), axis=1)
        return total / ops.cast(lengths, sequences.dtype)

    def compute_output_shape(self, sequences_shape, lengths_shape=None):
        return (sequences_shape[0], sequences_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def recurrent_layer(kind, units, *, cell="keras", dropout=0.0, name=None):
    """A sequence-returning LSTM/GRU layer that converts to TFLite built-ins (see module doc)."""
    if kind not in KINDS:
        raise ValueError(f"unknown recurrent kind {kind!r}; expected one of {KINDS}")
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; expected one of {CELLS}")
    if cell == "kerasdl":
        rnn_cell = (LSTMCell if kind == "lstm" else GRUCell)(units, dropout=dropout)
        return keras.layers.RNN(rnn_cell, return_sequences=True, unroll=True, name=name)
    if kind == "lstm":
        return FusibleLSTM(units, return_sequences=True, dropout=dropout, name=name)
    return keras.layers.GRU(units, return_sequences=True, dropout=dropout, unroll=True, name=name)


_SMALL = {"vocab_size": 50, "sequence_length": 6, "embedding_dim": 16, "units": 16, "dropout": 0.0,
          "embedding_dropout": 0.0}


@register_model("bilstm_classifier", tags=("text", "classifier", "rnn", "lstm"), defaults={"kind": "lstm"},
                task="text_classification", small=_SMALL, deployable=True)
@register_model("bigru_classifier", tags=("text", "classifier", "rnn", "gru"), defaults={"kind": "gru"},
                task="text_classification", small=_SMALL, deployable=True)
class BiRNNClassifier(FunctionalModel):
    """Embedding -> bidirectional LSTM/GRU stack over right-padded ids -> padded pooling -> logits."""

    @staticmethod
    def build_graph(vocab_size=20000, sequence_length=64, num_classes=2, kind="lstm", embedding_dim=128,
                    units=64, num_layers=1, pooling="max", dropout=0.5, embedding_dropout=0.25,
                    recurrent_input_dropout=0.0, cell="keras"):
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        ids = token_ids_input(sequence_length)
        lengths = TokenLengths(name="lengths")(ids)
        x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(ids)
        if embedding_dropout:
            x = keras.layers.Dropout(embedding_dropout, name="embedding_dropout")(x)
        for layer in range(int(num_layers)):
            x = padded_bidirectional(
                lambda name: recurrent_layer(kind, units, cell=cell, dropout=recurrent_input_dropout,
                                             name=name),
                x, lengths, name=f"bi{kind}{layer}")
        x = PaddedPooling(pooling, name=f"{pooling}_pool")(x, lengths)
        if dropout:
            x = keras.layers.Dropout(dropout, name="dropout")(x)
        outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
        return ids, outputs
