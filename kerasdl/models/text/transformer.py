"""Transformer models on token ids (id 0 = padding): a sentence classifier, an encoder-decoder for
translation, a GPT-style causal LM and a BERT-style masked LM, plus BERT's token masking.

All take fixed-length int32 ids and return float32 logits; blocks come from
``kerasdl.layers.transformer``. Defaults are small (a 2-core CPU trains them in minutes);
``norm_first=True`` is the pre-norm residual of GPT-2 (stabler to train, Xiong et al. 2020);
``norm_first=False`` is the post-norm of the original Transformer and BERT.
"""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.layers.transformer import (PaddingMask, TokenAndPositionEmbedding, TransformerDecoderBlock,
                                        TransformerEncoderBlock)
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.text.inputs import token_ids_input

_SMALL = {"d_model": 16, "num_heads": 2, "num_layers": 1, "ff_dim": 32}


# ------------------------------------------------------------------------------ pieces
def _embed(ids, vocab_size, length, d_model, positions, dropout, name, scale_embeddings=True):
    """(embedded ids after dropout, the embedding layer — reusable as a tied output projection)."""
    embedding = TokenAndPositionEmbedding(vocab_size, length, d_model, positions=positions,
                                          scale_embeddings=scale_embeddings, name=f"{name}_embedding")
    x = embedding(ids)
    return keras.layers.Dropout(dropout, name=f"{name}_embedding_dropout")(x), embedding


def _stack(x, block, num_layers, norm_first, name, **call_kwargs):
    """``num_layers`` blocks made by ``block(name)``; pre-norm stacks end with a LayerNormalization."""
    for i in range(num_layers):
        x = block(f"{name}_block{i}")(x, **call_kwargs)
    if norm_first:
        x = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_final_norm")(x)
    return x


def _float32_logits(x):
    return keras.layers.Activation("linear", dtype="float32", name="logits")(x)


def _vocab_logits(x, embedding, vocab_size, tie_embeddings):
    """Output projection to the vocabulary: ``x·Eᵀ`` with the input embedding E, or a Dense."""
    x = embedding(x, reverse=True) if tie_embeddings else keras.layers.Dense(vocab_size, name="lm_head")(x)
    return _float32_logits(x)


def _next_token_logits(model, fixed_inputs, prefix_ids, length):
    """Logits ``[B, V]`` after ``prefix_ids`` ``[B, t]``: one forward pass on the prefix right-padded
    with 0 to ``length`` (causal masking makes the padding irrelevant)."""
    prefix = np.asarray(prefix_ids, dtype=np.int32)
    if prefix.ndim != 2 or not 1 <= prefix.shape[1] <= length:
        raise ValueError(f"prefix_ids must be [batch, t] with 1 <= t <= {length}, got shape {prefix.shape}")
    t = prefix.shape[1]
    padded = np.zeros((len(prefix), length), np.int32)
    padded[:, :t] = prefix
    logits = model.predict_on_batch([*fixed_inputs, padded] if fixed_inputs else padded)
    return np.asarray(logits)[:, t - 1]


# ------------------------------------------------------------------------------ models
@register_model("transformer_classifier", tags=("text", "transformer", "classifier"),
                task="text_classification", deployable=True,
                small={"vocab_size": 50, "sequence_length": 12, **_SMALL})
class TransformerClassifier(FunctionalModel):
    """Token ids ``[B, T]`` -> embedding + positions -> encoder blocks (padding keys masked) ->
    mean over the non-padding positions -> dropout -> class logits."""

    @staticmethod
    def build_graph(vocab_size=20000, sequence_length=64, num_classes=2, d_model=64, num_heads=4,
                    num_layers=2, ff_dim=128, dropout=0.1, norm_first=True, positions="sinusoidal",
                    activation="relu"):
        ids = token_ids_input(sequence_length, "token_ids")
        mask = PaddingMask(name="padding_mask")(ids)
        x, _ = _embed(ids, vocab_size, sequence_length, d_model, positions, dropout, "encoder")
        x = _stack(x, lambda name: TransformerEncoderBlock(
            num_heads, ff_dim, dropout=dropout, norm_first=norm_first, activation=activation, name=name),
            num_layers, norm_first, "encoder", padding_mask=mask)
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x, mask=mask)
        x = keras.layers.Dropout(dropout, name="pool_dropout")(x)
        return ids, keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)


@register_model("transformer_seq2seq", tags=("text", "transformer", "seq2seq"), task="seq2seq",
                small={"source_vocab_size": 40, "target_vocab_size": 50, "source_length": 10,
                       "target_length": 8, **_SMALL})
class TransformerSeq2Seq(FunctionalModel):
    """The encoder-decoder of Vaswani et al.: (source ids ``[B, S]``, target_in ids ``[B, T]``) ->
    next-token logits ``[B, T, target_vocab_size]`` (teacher forcing: target_in is the target
    shifted right behind a start token). ``next_token_logits`` serves greedy/beam decoding."""

    @staticmethod
    def build_graph(source_vocab_size=8000, target_vocab_size=8000, source_length=32, target_length=32,
                    d_model=128, num_heads=4, num_layers=3, ff_dim=256, dropout=0.1, norm_first=True,
                    positions="sinusoidal", activation="relu", tie_embeddings=False):
        source = token_ids_input(source_length, "source_ids")
        target = token_ids_input(target_length, "target_ids")
        source_mask = PaddingMask(name="source_padding_mask")(source)
        target_mask = PaddingMask(name="target_padding_mask")(target)
        block_kwargs = {"dropout": dropout, "norm_first": norm_first, "activation": activation}

        x, _ = _embed(source, source_vocab_size, source_length, d_model, positions, dropout, "encoder")
        memory = _stack(x, lambda name: TransformerEncoderBlock(num_heads, ff_dim, name=name, **block_kwargs),
                        num_layers, norm_first, "encoder", padding_mask=source_mask)
        y, embedding = _embed(target, target_vocab_size, target_length, d_model, positions, dropout,
                              "decoder")
        y = _stack(y, lambda name: TransformerDecoderBlock(num_heads, ff_dim, name=name, **block_kwargs),
                   num_layers, norm_first, "decoder", context=memory, padding_mask=target_mask,
                   context_padding_mask=source_mask)
        return [source, target], _vocab_logits(y, embedding, target_vocab_size, tie_embeddings)

    def next_token_logits(self, source_ids, prefix_ids):
        """Logits ``[B, target_vocab_size]`` of the token after ``prefix_ids`` ``[B, t]`` (starting
        with the start token) given ``source_ids`` ``[B, source_length]``."""
        source = np.asarray(source_ids, dtype=np.int32)
        return _next_token_logits(self, [source], prefix_ids, self.hyperparameters["target_length"])


@register_model("gpt", tags=("text", "transformer", "language_model"), task="language_model",
                deployable=True, small={"vocab_size": 50, "sequence_length": 12, **_SMALL})
class GPT(FunctionalModel):
    """GPT-style causal LM (Radford et al. 2018/2019): ids ``[B, T]`` -> token + learned position
    embeddings -> pre-norm decoder blocks without cross-attention -> final LayerNorm -> logits
    ``[B, T, V]`` predicting token t+1 at position t; output projection tied to the embedding."""

    @staticmethod
    def build_graph(vocab_size=8000, sequence_length=128, d_model=128, num_heads=4, num_layers=4,
                    ff_dim=512, dropout=0.1, norm_first=True, positions="learned", activation="gelu",
                    tie_embeddings=True):
        ids = token_ids_input(sequence_length, "token_ids")
        mask = PaddingMask(name="padding_mask")(ids)
        x, embedding = _embed(ids, vocab_size, sequence_length, d_model, positions, dropout, "decoder",
                              scale_embeddings=positions == "sinusoidal")
        x = _stack(x, lambda name: TransformerDecoderBlock(
            num_heads, ff_dim, cross_attention=False, dropout=dropout, norm_first=norm_first,
            activation=activation, name=name), num_layers, norm_first, "decoder", padding_mask=mask)
        return ids, _vocab_logits(x, embedding, vocab_size, tie_embeddings)

    def next_token_logits(self, prefix_ids):
        """Logits ``[B, V]`` of the token after ``prefix_ids`` ``[B, t]``; a prefix longer than
        ``sequence_length`` is cut to its last ``sequence_length`` tokens (a sliding window)."""
        length = self.hyperparameters["sequence_length"]
        return _next_token_logits(self, [], np.asarray(prefix_ids)[:, -length:], length)


@register_model("bert_mlm", tags=("text", "transformer", "language_model"), task="language_model",
                deployable=True, small={"vocab_size": 50, "sequence_length": 12, **_SMALL})
class BertMLM(FunctionalModel):
    """BERT-style masked LM (Devlin et al. 2019): ids ``[B, T]`` (some replaced by ``mask_tokens``)
    -> token + learned position embeddings -> LayerNorm -> post-norm encoder blocks (padding keys
    masked) -> Dense + GELU + LayerNorm transform -> logits ``[B, T, V]`` (tied to the embedding).
    Train with ``MaskedSparseCategoricalCrossentropy`` on ``mask_tokens`` labels."""

    @staticmethod
    def build_graph(vocab_size=8000, sequence_length=64, d_model=128, num_heads=4, num_layers=4,
                    ff_dim=512, dropout=0.1, norm_first=False, positions="learned", activation="gelu",
                    tie_embeddings=True):
        ids = token_ids_input(sequence_length, "token_ids")
        mask = PaddingMask(name="padding_mask")(ids)
        embedding = TokenAndPositionEmbedding(vocab_size, sequence_length, d_model, positions=positions,
                                              scale_embeddings=False, name="encoder_embedding")
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="encoder_embedding_norm")(embedding(ids))
        x = keras.layers.Dropout(dropout, name="encoder_embedding_dropout")(x)
        x = _stack(x, lambda name: TransformerEncoderBlock(
            num_heads, ff_dim, dropout=dropout, norm_first=norm_first, activation=activation, name=name),
            num_layers, norm_first, "encoder", padding_mask=mask)
        x = keras.layers.Dense(d_model, activation=activation, name="mlm_transform")(x)
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="mlm_norm")(x)
        return ids, _vocab_logits(x, embedding, vocab_size, tie_embeddings)

    def prediction_model(self, num_predictions: int) -> keras.Model:
        """A training view sharing this model's weights: (ids ``[B, T]``, positions ``[B, P]``) ->
        logits ``[B, P, V]`` at those positions only (BERT's ``masked_lm_positions``; build them
        with ``masked_positions``). The vocabulary projection — most of the cost at small sizes —
        then runs on the P predicted tokens instead of all T."""
        positions = keras.Input((num_predictions,), dtype="int32", name="masked_positions")
        hidden = self.get_layer("mlm_norm").output
        x = keras.ops.take_along_axis(hidden, keras.ops.expand_dims(positions, -1), axis=1)
        if self.hyperparameters["tie_embeddings"]:
            x = self.get_layer("encoder_embedding")(x, reverse=True)
        else:
            x = self.get_layer("lm_head")(x)
        return keras.Model([self.input, positions], self.get_layer("logits")(x),
                           name=f"{self.name}_predictions")


# ------------------------------------------------------------------------------ masking
def mask_tokens(ids, *, mask_id: int, vocab_size: int, seed, rate=0.15, mask_fraction=0.8,
                random_fraction=0.1, special_ids=()):
    """BERT's masked-LM corruption (Devlin et al. 2019, §3.1) of int token ids ``[..., T]``.

    Each token whose id is neither 0 (padding) nor in ``special_ids`` (e.g. [UNK]) is chosen with
    probability ``rate``; a chosen token becomes ``mask_id`` with probability ``mask_fraction``,
    a uniformly random id of ``[1, vocab_size)`` other than ``mask_id`` and ``special_ids`` with
    probability ``random_fraction``, and stays unchanged otherwise.
    ``seed``: a stateless TF seed (two ints): the same seed masks the same way, and a tf.data
    pipeline draws a fresh one per batch (``tf.data.Dataset.random``) for dynamic masking.
    Returns int tensors ``(inputs, labels)``: labels hold the original id at chosen positions and
    0 elsewhere (0 = ignored by ``MaskedSparseCategoricalCrossentropy``).
    """
    import tensorflow as tf

    ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise ValueError(f"ids must be integer token ids, got dtype {ids.dtype.name}")
    if not 0 < rate <= 1 or mask_fraction < 0 or random_fraction < 0 or mask_fraction + random_fraction > 1:
        raise ValueError(f"need 0 < rate <= 1 and mask_fraction + random_fraction <= 1, got rate={rate}, "
                         f"mask_fraction={mask_fraction}, random_fraction={random_fraction}")
    kept_out = sorted({0, *map(int, special_ids)})
    candidates = np.setdiff1d(np.arange(1, vocab_size), [*kept_out, int(mask_id)])
    if len(candidates) == 0:
        raise ValueError(f"no ids left in [1, vocab_size={vocab_size}) to draw random replacements from")
    checks = [tf.debugging.assert_non_negative(ids, message="token ids must be >= 0"),
              tf.debugging.assert_less(ids, tf.cast(vocab_size, ids.dtype),
                                       message=f"token ids must be < vocab_size={vocab_size}")]
    with tf.control_dependencies(checks):
        ids = tf.identity(ids)
    choose_seed, action_seed, random_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    shape = tf.shape(ids)
    eligible = tf.reduce_all(tf.not_equal(tf.expand_dims(ids, -1), tf.constant(kept_out, ids.dtype)), -1)
    chosen = (tf.random.stateless_uniform(shape, choose_seed) < rate) & eligible
    action = tf.random.stateless_uniform(shape, action_seed)
    replacement = tf.gather(tf.constant(candidates, ids.dtype), tf.random.stateless_uniform(
        shape, random_seed, maxval=len(candidates), dtype=tf.int32))
    inputs = tf.where(chosen & (action < mask_fraction), tf.cast(mask_id, ids.dtype), ids)
    inputs = tf.where(chosen & (action >= mask_fraction) & (action < mask_fraction + random_fraction),
                      replacement, inputs)
    return inputs, tf.where(chosen, ids, tf.zeros_like(ids))


def masked_positions(labels, num_predictions: int):
    """``mask_tokens`` labels ``[B, T]`` -> (positions ``[B, P]``, their labels ``[B, P]``) for
    ``BertMLM.prediction_model``: the first ``P = num_predictions`` chosen positions in order, then
    unchosen ones with label 0 (ignored by the loss). Chosen positions beyond P go untrained, as
    with BERT's ``max_predictions_per_seq``."""
    import tensorflow as tf

    labels = tf.convert_to_tensor(labels)
    length = labels.shape[-1]
    if length is None or not 1 <= num_predictions <= length:
        raise ValueError(f"num_predictions must be in [1, sequence length {length}], got {num_predictions}")
    key = tf.where(tf.not_equal(labels, 0), 0, length) + tf.range(length)
    positions = tf.argsort(key, axis=-1)[..., :num_predictions]
    return positions, tf.gather(labels, positions, batch_dims=1)
