"""Greedy and beam-search decoding for any seq2seq model, through one callable.

Both decoders see the model only as ``next_token_logits(source_ids [N, S], prefix_ids [N, t]) ->
logits [N, V]``: the logits of the token that follows each prefix (which starts with ``<bos>``).
:func:`seq2seq_next_token_logits` makes that callable from any model of the "seq2seq" task
(RNN ``Seq2Seq``, ``transformer_seq2seq``): it pads the prefix to the model's fixed target length
and reads the logits at the prefix's last position, which is exact for causal decoders.

Scores are log-probabilities under ``log_softmax`` with the padding id excluded. Beam search ranks
finished hypotheses by ``log p / lp(length)``, GNMT's length normalisation
``lp(n) = ((5 + n) / 6) ** alpha`` (Wu et al. 2016; ``alpha=0``: raw log-probability), where n counts
the generated tokens including ``<eos>``. A hypothesis ends at ``<eos>`` or at ``max_length``; a
source's search stops once no live hypothesis can still beat its best finished one (an exact bound,
since log-probabilities never increase), so with a beam wide enough to keep every prefix it returns
the exact best sequence.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

NextTokenLogits = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Decoded:
    """``tokens [B, max_length]`` int32 (generated ids, ``<eos>`` included, then ``pad_id``),
    ``log_probs [B]`` (their total log-probability) and ``scores [B]`` (length-normalised)."""

    tokens: np.ndarray
    log_probs: np.ndarray
    scores: np.ndarray

    def sequences(self, eos_id: int) -> list[list[int]]:
        """Each row's ids before ``<eos>`` (``<eos>`` and padding dropped)."""
        out = []
        for row in self.tokens.tolist():
            out.append(row[:row.index(eos_id)] if eos_id in row else [t for t in row if t])
        return out


def length_penalty(length, alpha: float):
    """GNMT's ``((5 + length) / 6) ** alpha``."""
    return ((5.0 + np.asarray(length, "float64")) / 6.0) ** alpha


def _check(source_ids, bos_id, eos_id, pad_id, max_length):
    source_ids = np.asarray(source_ids)
    if source_ids.ndim != 2 or not np.issubdtype(source_ids.dtype, np.integer) or len(source_ids) == 0:
        raise ValueError(f"source_ids must be a non-empty integer array [batch, length], got "
                         f"{source_ids.dtype} {source_ids.shape}")
    if int(max_length) < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    if len({bos_id, eos_id, pad_id}) != 3:
        raise ValueError(f"bos_id ({bos_id}), eos_id ({eos_id}) and pad_id ({pad_id}) must differ")
    return source_ids.astype("int32")


def _log_probs(next_token_logits, source_ids, prefixes, banned) -> np.ndarray:
    logits = np.asarray(next_token_logits(source_ids, prefixes), "float64")
    if logits.ndim != 2 or len(logits) != len(prefixes):
        raise ValueError(f"next_token_logits must return logits [{len(prefixes)}, vocab], got {logits.shape}")
    logits[:, banned] = -np.inf  # never generated (padding, and e.g. [UNK])
    top = logits.max(-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))


def greedy_decode(next_token_logits: NextTokenLogits, source_ids, *, bos_id: int, eos_id: int,
                  max_length: int, pad_id: int = 0, banned_ids=()) -> Decoded:
    """Take the most likely token at each step until ``<eos>`` or ``max_length``; ``pad_id`` and
    ``banned_ids`` are never generated."""
    source_ids = _check(source_ids, bos_id, eos_id, pad_id, max_length)
    batch = len(source_ids)
    tokens = np.full((batch, max_length), pad_id, "int32")
    log_probs = np.zeros(batch)
    active = np.arange(batch)
    for step in range(max_length):
        prefixes = np.concatenate([np.full((len(active), 1), bos_id, "int32"), tokens[active, :step]], 1)
        logp = _log_probs(next_token_logits, source_ids[active], prefixes, [pad_id, *banned_ids])
        best = logp.argmax(-1)
        tokens[active, step] = best
        log_probs[active] += logp[np.arange(len(active)), best]
        ended = best == eos_id
        active = active[~ended]
        if len(active) == 0:
            break
    return Decoded(tokens, log_probs, log_probs)


def beam_search(next_token_logits: NextTokenLogits, source_ids, *, bos_id: int, eos_id: int,
                max_length: int, beam_width: int = 4, alpha: float = 0.6, pad_id: int = 0,
                banned_ids=()) -> Decoded:
    """Keep the ``beam_width`` best live prefixes per source; return the best finished hypothesis.

    Each step walks the ``beam_width · V`` extensions of the live prefixes best-first until
    ``beam_width`` of them are live again: on the way, an extension ending in ``<eos>`` becomes a
    finished hypothesis. (So width 1 with ``alpha=0`` is greedy decoding.) ``pad_id`` and
    ``banned_ids`` are never generated.
    """
    source_ids = _check(source_ids, bos_id, eos_id, pad_id, max_length)
    if int(beam_width) < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    batch, width = len(source_ids), int(beam_width)
    live = np.full((batch, width, 1), bos_id, "int32")  # prefixes, <bos> first
    live_scores = np.full((batch, width), -np.inf)
    live_scores[:, 0] = 0.0  # one live prefix at the start
    finished: list[list[tuple[float, float, list[int]]]] = [[] for _ in range(batch)]  # (score, log p, ids)
    done = np.zeros(batch, bool)
    final_lp = float(length_penalty(max_length, alpha))
    for step in range(max_length):
        active = np.flatnonzero(~done)
        if len(active) == 0:
            break
        rows, beams = np.nonzero(live_scores[active] > -np.inf)  # query live prefixes only
        logp = _log_probs(next_token_logits, source_ids[active[rows]], live[active[rows], beams],
                          [pad_id, *banned_ids])
        vocab = logp.shape[-1]
        candidates = np.full((len(active), width, vocab), -np.inf)
        candidates[rows, beams] = live_scores[active[rows], beams][:, None] + logp
        candidates = candidates.reshape(len(active), -1)
        keep = min(2 * width, candidates.shape[1])  # >= width non-<eos> extensions among these
        top = np.argpartition(-candidates, keep - 1, axis=1)[:, :keep]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(candidates, top, 1), 1, kind="stable"), 1)
        new_live = np.full((len(active), width, step + 2), pad_id, "int32")
        new_scores = np.full((len(active), width), -np.inf)
        lp = float(length_penalty(step + 1, alpha))
        for i, b in enumerate(active):
            count = 0
            for flat in top[i]:
                score = candidates[i, flat]
                if count == width or score == -np.inf:
                    break
                beam, token = divmod(int(flat), vocab)
                prefix = live[b, beam]
                if token == eos_id:
                    finished[b].append((score / lp, score, [*prefix[1:].tolist(), eos_id]))
                    continue
                new_live[i, count, :-1], new_live[i, count, -1] = prefix, token
                new_scores[i, count] = score
                count += 1
        live = np.full((batch, width, step + 2), pad_id, "int32")
        live[active], live_scores[active] = new_live, new_scores
        for b in active:
            best_finished = max((f[0] for f in finished[b]), default=-np.inf)
            best_live = live_scores[b].max()
            # the best any live prefix can still reach: its log p (which only falls) over lp(max_length)
            done[b] = best_live == -np.inf or best_finished >= best_live / final_lp
    for b in np.flatnonzero(~done):  # reached max_length without <eos>
        for beam in range(width):
            if live_scores[b, beam] > -np.inf:
                finished[b].append((live_scores[b, beam] / final_lp, live_scores[b, beam], live[b, beam, 1:].tolist()))
    tokens = np.full((batch, max_length), pad_id, "int32")
    log_probs, scores = np.zeros(batch), np.zeros(batch)
    for b in range(batch):
        scores[b], log_probs[b], ids = max(finished[b], key=lambda f: f[0])
        tokens[b, :len(ids)] = ids
    return Decoded(tokens, log_probs, scores)


def _position_wise_head(model):
    """The model's trailing Dense/Activation/Dropout layers and the tensor they start from. They act
    on each position alone, so they can run after picking the one position a decoding step needs
    (the [N, T, V] logits of every position are never formed)."""
    import keras

    head, tensor = [], model.outputs[0]
    for layer in reversed(model.layers):
        if not isinstance(layer, (keras.layers.Dense, keras.layers.Activation, keras.layers.Dropout)):
            break
        try:
            if layer.output is not tensor:
                break
            tensor = layer.input
        except (AttributeError, ValueError):  # a layer called more than once
            break
        head.insert(0, layer)
    return head, tensor


def seq2seq_next_token_logits(model, *, batch_size: int = 512, pad_id: int = 0) -> NextTokenLogits:
    """``next_token_logits`` for a model of the "seq2seq" task: ``(source [B, S], target_in [B, T])
    -> logits [B, T, V]`` with a causal decoder. Prefixes longer than T are an error."""
    import keras
    import tensorflow as tf

    if len(model.inputs) != 2:
        raise ValueError(f"{model.name!r} is not a seq2seq model: it takes {len(model.inputs)} inputs, "
                         "not (source, target_in)")
    source_length, target_length = model.inputs[0].shape[1], model.inputs[1].shape[1]
    head, features = _position_wise_head(model)
    body = keras.Model(model.inputs, features) if head else model

    @tf.function(reduce_retracing=True)
    def logits_at(source, target_in, position):
        x = tf.gather(body([source, target_in], training=False), position, axis=1)
        for layer in head:
            x = layer(x, training=False)
        return x

    def next_token_logits(source_ids, prefix_ids):
        source_ids, prefix_ids = np.asarray(source_ids, "int32"), np.asarray(prefix_ids, "int32")
        if source_ids.shape[1:] != (source_length,):
            raise ValueError(f"source_ids must be [N, {source_length}], got {source_ids.shape}")
        steps = prefix_ids.shape[1]
        if not 1 <= steps <= target_length:
            raise ValueError(f"prefixes hold 1..{target_length} tokens for this model, got {steps}")
        target_in = np.full((len(prefix_ids), target_length), pad_id, "int32")
        target_in[:, :steps] = prefix_ids
        position = tf.constant(steps - 1)
        return np.concatenate([logits_at(source_ids[i:i + batch_size], target_in[i:i + batch_size],
                                         position).numpy() for i in range(0, len(source_ids), batch_size)])

    return next_token_logits
