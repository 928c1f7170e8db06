"""Transformer building blocks (Vaswani et al. 2017) on ``keras.layers.MultiHeadAttention``.

* ``scaled_dot_product_attention``: softmax(Q·Kᵀ/√d_k)·V written out, for teaching (the layers use
  Keras' MultiHeadAttention, which computes the same per head; tests/test_transformer.py checks both).
* ``sinusoidal_positional_encoding`` / ``PositionalEncoding``: fixed sinusoids or learned positions.
* ``TokenAndPositionEmbedding``: token embedding (optionally ×√d_model) + positions; called with
  ``reverse=True`` it maps hidden states back to vocabulary logits with the same matrix (weight tying).
* ``TransformerEncoderBlock`` / ``TransformerDecoderBlock``: self-attention (causal in the decoder),
  optional cross-attention, position-wise feed-forward, dropout, residuals and LayerNormalization,
  post-norm (the paper) or pre-norm (GPT-2; needs a final LayerNormalization after the stack).

Masks follow Keras: ``True`` = may attend. Padding masks are ``[B, S]`` (True at real tokens; build
them from ids with ``PaddingMask``); the causal mask is a constant lower-triangular ``[1, T, T]``.
Everything is static-shaped TF ops that XLA compiles and TFLite converts to built-ins
(no ``None``-indexing, no ``band_part``, fixed sequence lengths).
"""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


# ----------------------------------------------------------------------------- functions
def scaled_dot_product_attention(query, key, value, mask=None, scale=True):
    """Attention(Q, K, V) = softmax(Q·Kᵀ/√d_k)·V (Vaswani et al. 2017, eq. 1).

    query ``[..., T, d_k]``, key ``[..., S, d_k]``, value ``[..., S, d_v]``; ``mask`` broadcasts to
    ``[..., T, S]`` with True where a query may attend. ``scale=False`` drops the 1/√d_k factor
    (for showing what it does: large d_k pushes the softmax towards one-hot).
    Returns ``(output [..., T, d_v], weights [..., T, S])``.
    """
    d_k = query.shape[-1]
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2))
    if scale:
        scores = scores / ops.cast(math.sqrt(d_k), scores.dtype)
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, ops.cast(-1e9, scores.dtype))
    weights = ops.softmax(scores, axis=-1)
    return ops.matmul(weights, value), weights


def sinusoidal_positional_encoding(length: int, depth: int, max_wavelength: float = 10000.0) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)); float32
    ``[length, depth]`` (an odd ``depth`` ends with a sine column)."""
    if length < 1 or depth < 1:
        raise ValueError(f"length and depth must be positive, got {length} and {depth}")
    positions = np.arange(length, dtype=np.float64).reshape(-1, 1)
    rates = max_wavelength ** (-np.arange(0, depth, 2, dtype=np.float64) / depth)  # 2i/d
    angles = positions * rates.reshape(1, -1)
    table = np.zeros((length, depth))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : depth // 2])
    return table.astype(np.float32)


def causal_attention_mask(query_length: int, key_length: int | None = None) -> np.ndarray:
    """Constant bool ``[1, T, S]``: query t may attend to keys 0..t (lower triangle)."""
    key_length = query_length if key_length is None else key_length
    return np.tril(np.ones((query_length, key_length), dtype=bool)).reshape(1, query_length, key_length)


def key_padding_attention_mask(padding_mask):
    """``[B, S]`` (True at real tokens) -> ``[B, 1, S]``, broadcasting over the queries."""
    return ops.expand_dims(ops.cast(padding_mask, "bool"), axis=1)


def _static_length(x, what: str) -> int:
    length = x.shape[1]
    if length is None:
        raise ValueError(f"{what} needs a fixed sequence length (static axis 1), got shape {x.shape}")
    return int(length)


# ------------------------------------------------------------------------------- layers
@keras.saving.register_keras_serializable(package="kerasdl")
class PaddingMask(keras.layers.Layer):
    """Token ids ``[B, T]`` -> bool ``[B, T]``, True where ``id != pad_id``."""

    def __init__(self, pad_id=0, **kwargs):
        super().__init__(**kwargs)
        self.pad_id = pad_id

    def call(self, ids):
        return ops.not_equal(ids, ops.cast(self.pad_id, ids.dtype))

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


@keras.saving.register_keras_serializable(package="kerasdl")
class PositionalEncoding(keras.layers.Layer):
    """Adds position information to ``[B, T, D]`` inputs, ``T <= sequence_length``.

    ``learned=False``: the fixed sinusoids of ``sinusoidal_positional_encoding`` (no weights).
    ``learned=True``: a trainable ``[sequence_length, D]`` table (BERT, GPT).
    """

    def __init__(self, sequence_length, learned=False, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        if int(sequence_length) < 1:
            raise ValueError(f"sequence_length must be positive, got {sequence_length}")
        self.sequence_length, self.learned = int(sequence_length), bool(learned)
        self.max_wavelength = float(max_wavelength)

    def build(self, input_shape):
        depth = input_shape[-1]
        if self.learned:
            self.position_embeddings = self.add_weight(
                name="position_embeddings", shape=(self.sequence_length, depth),
                initializer=keras.initializers.RandomNormal(stddev=0.02))
        else:
            self._table = sinusoidal_positional_encoding(self.sequence_length, depth, self.max_wavelength)

    def positions(self, length: int):
        """The ``[length, D]`` position table."""
        if length > self.sequence_length:
            raise ValueError(f"{self.name}: sequence of length {length} is longer than "
                             f"sequence_length={self.sequence_length}")
        table = self.position_embeddings if self.learned else self._table[:length]
        if self.learned and length < self.sequence_length:
            table = ops.slice(table, (0, 0), (length, table.shape[-1]))
        return table

    def call(self, inputs):
        return inputs + ops.cast(self.positions(_static_length(inputs, self.name)), inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "learned": self.learned, "max_wavelength": self.max_wavelength}


@keras.saving.register_keras_serializable(package="kerasdl")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """ids ``[B, T]`` -> ``embedding(ids)·(√d_model if scale_embeddings) + positions`` ``[B, T, d]``.

    ``positions``: "sinusoidal" (Vaswani) or "learned" (BERT/GPT). Token embeddings E start as
    N(0, 1/d_model), so that ``√d_model·E`` has unit variance (the paper's scaling) and the tied
    logits ``layer(hidden, reverse=True) = hidden·Eᵀ`` of unit-variance hidden states start at unit
    scale (GPT-2's N(0, 0.02) gives near-zero logits that small models leave only slowly).
    """

    def __init__(self, vocab_size, sequence_length, d_model, positions="sinusoidal",
                 scale_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        if positions not in ("sinusoidal", "learned"):
            raise ValueError(f"positions must be 'sinusoidal' or 'learned', got {positions!r}")
        self.vocab_size, self.d_model = int(vocab_size), int(d_model)
        self.sequence_length = int(sequence_length)
        self.positions, self.scale_embeddings = positions, bool(scale_embeddings)
        self.token_embedding = keras.layers.Embedding(
            self.vocab_size, self.d_model,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=self.d_model ** -0.5),
            dtype=self.dtype_policy, name="token_embedding")
        self.position_encoding = PositionalEncoding(
            self.sequence_length, learned=positions == "learned", dtype=self.dtype_policy,
            name="position_encoding")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_encoding.build((*input_shape, self.d_model))

    def call(self, inputs, reverse=False):
        if reverse:
            table = ops.cast(self.token_embedding.embeddings, inputs.dtype)
            return ops.matmul(inputs, ops.transpose(table))
        x = self.token_embedding(inputs)
        if self.scale_embeddings:
            x = x * ops.cast(math.sqrt(self.d_model), x.dtype)
        return self.position_encoding(x)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "sequence_length": self.sequence_length, "d_model": self.d_model,
                "positions": self.positions, "scale_embeddings": self.scale_embeddings}


class _TransformerBlock(keras.layers.Layer):
    """What encoder and decoder blocks share: attention sublayers, the feed-forward network,
    and the residual wiring ``x + dropout(f(norm(x)))`` (pre-norm) or ``norm(x + dropout(f(x)))``."""

    def __init__(self, num_heads, ff_dim, dropout=0.1, attention_dropout=0.0, norm_first=False,
                 activation="relu", key_dim=None, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.ff_dim, self.key_dim = int(num_heads), int(ff_dim), key_dim
        self.dropout, self.attention_dropout = float(dropout), float(attention_dropout)
        self.norm_first, self.activation, self.epsilon = bool(norm_first), activation, float(epsilon)

    def _attention(self, name):
        return keras.layers.MultiHeadAttention(
            self.num_heads, self._key_dim, dropout=self.attention_dropout, dtype=self.dtype_policy,
            name=name)

    def _make_sublayers(self, d_model, attention_names):
        if self.key_dim is None and d_model % self.num_heads:
            raise ValueError(f"{self.name}: d_model={d_model} is not divisible by num_heads="
                             f"{self.num_heads}; pass key_dim")
        self._key_dim = self.key_dim or d_model // self.num_heads
        self.attentions = {n: self._attention(n) for n in attention_names}
        names = [*attention_names, "ffn"]
        self.norms = {n: keras.layers.LayerNormalization(epsilon=self.epsilon, dtype=self.dtype_policy,
                                                         name=f"{n}_norm") for n in names}
        self.dropouts = {n: keras.layers.Dropout(self.dropout, dtype=self.dtype_policy,
                                                 name=f"{n}_dropout") for n in names}
        self.ffn_in = keras.layers.Dense(self.ff_dim, activation=self.activation,
                                         dtype=self.dtype_policy, name="ffn_in")
        self.ffn_out = keras.layers.Dense(d_model, dtype=self.dtype_policy, name="ffn_out")

    def _build_ffn(self, input_shape):
        for norm in self.norms.values():
            norm.build(input_shape)
        self.ffn_in.build(input_shape)
        self.ffn_out.build((*input_shape[:-1], self.ff_dim))

    def _residual(self, name, x, fn, training):
        norm, dropout = self.norms[name], self.dropouts[name]
        if self.norm_first:
            return x + dropout(fn(norm(x)), training=training)
        return norm(x + dropout(fn(x), training=training))

    def _feed_forward(self, x, training):
        return self._residual("ffn", x, lambda h: self.ffn_out(self.ffn_in(h)), training)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "ff_dim": self.ff_dim,
                "dropout": self.dropout, "attention_dropout": self.attention_dropout,
                "norm_first": self.norm_first, "activation": self.activation,
                "key_dim": self.key_dim, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kerasdl")
class TransformerEncoderBlock(_TransformerBlock):
    """Self-attention over all (non-padding) positions -> feed-forward; ``[B, T, d] -> [B, T, d]``.

    ``call(x, padding_mask=None)``: ``padding_mask`` ``[B, T]`` is True at real tokens; padded keys
    get no attention (outputs at padded positions are meaningless and should be ignored).
    """

    def build(self, input_shape):
        self._make_sublayers(input_shape[-1], ["self_attention"])
        self.attentions["self_attention"].build(input_shape, input_shape)
        self._build_ffn(input_shape)

    def call(self, inputs, padding_mask=None, training=None):
        mask = None if padding_mask is None else key_padding_attention_mask(padding_mask)
        attention = self.attentions["self_attention"]
        x = self._residual("self_attention", inputs,
                           lambda h: attention(h, h, attention_mask=mask, training=training), training)
        return self._feed_forward(x, training)


@keras.saving.register_keras_serializable(package="kerasdl")
class TransformerDecoderBlock(_TransformerBlock):
    """Causal self-attention -> cross-attention to ``context`` (if ``cross_attention``) ->
    feed-forward; ``[B, T, d] -> [B, T, d]``. Without cross-attention it is a GPT block.

    ``call(x, context=None, padding_mask=None, context_padding_mask=None)``: position t attends
    to positions <= t of ``x`` (and not to padding), and to every non-padding position of
    ``context`` ``[B, S, d_context]``.
    """

    def __init__(self, num_heads, ff_dim, cross_attention=True, **kwargs):
        super().__init__(num_heads, ff_dim, **kwargs)
        self.cross_attention = bool(cross_attention)

    def build(self, inputs_shape, context_shape=None):
        names = ["self_attention", "cross_attention"] if self.cross_attention else ["self_attention"]
        self._make_sublayers(inputs_shape[-1], names)
        self.attentions["self_attention"].build(inputs_shape, inputs_shape)
        if self.cross_attention:
            if context_shape is None:
                raise ValueError(f"{self.name}: cross_attention=True needs a context input")
            self.attentions["cross_attention"].build(inputs_shape, context_shape)
        self._build_ffn(inputs_shape)

    def call(self, inputs, context=None, padding_mask=None, context_padding_mask=None, training=None):
        if self.cross_attention and context is None:
            raise ValueError(f"{self.name}: cross_attention=True needs a context input")
        length = _static_length(inputs, self.name)
        mask = ops.convert_to_tensor(causal_attention_mask(length))
        if padding_mask is not None:
            mask = ops.logical_and(mask, key_padding_attention_mask(padding_mask))
        attention = self.attentions["self_attention"]
        x = self._residual("self_attention", inputs,
                           lambda h: attention(h, h, attention_mask=mask, training=training), training)
        if self.cross_attention:
            cross = self.attentions["cross_attention"]
            context_mask = (None if context_padding_mask is None
                            else key_padding_attention_mask(context_padding_mask))
            x = self._residual("cross_attention", x, lambda h: cross(
                h, context, attention_mask=context_mask, training=training), training)
        return self._feed_forward(x, training)

    def get_config(self):
        return {**super().get_config(), "cross_attention": self.cross_attention}
