"""Sampling text from a language model: temperature and top-k sampling of a continuation.

The sampler only needs ``next_logits(context_ids) -> scores [V]`` (logits or log-probabilities of
the token after ``context_ids``), so it drives a Keras LM (through :func:`causal_next_logits`), an
n-gram model (``lambda ids: np.log(ngram.distribution(ids))``) or anything else.
"""
from __future__ import annotations

import numpy as np


def sample_token(logits, *, temperature: float = 1.0, top_k: int | None = None, rng=None,
                 banned_ids=()) -> int:
    """One token id drawn from ``softmax(logits / temperature)`` restricted to the ``top_k``
    highest-scoring ids (``None``: all) and without ``banned_ids``. ``temperature == 0`` is greedy
    (argmax)."""
    logits = np.array(logits, dtype="float64").reshape(-1)
    if logits.size == 0:
        raise ValueError("logits is empty")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and not 1 <= top_k <= logits.size:
        raise ValueError(f"top_k must be in [1, {logits.size}] or None, got {top_k}")
    logits[list(banned_ids)] = -np.inf
    if not np.isfinite(logits).any():
        raise ValueError("every token is banned or has probability 0")
    if temperature == 0:
        return int(np.argmax(logits))
    if top_k is not None and top_k < logits.size:
        logits[np.argpartition(logits, -top_k)[:-top_k]] = -np.inf
    scaled = logits / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    rng = rng if rng is not None else np.random.default_rng()
    return int(rng.choice(logits.size, p=probs))


def generate(next_logits, prompt_ids, num_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, seed: int | None = 0, banned_ids=(0,)) -> list[int]:
    """``prompt_ids`` followed by ``num_tokens`` sampled ids (each conditioned on all before it).
    ``banned_ids`` defaults to the padding id 0."""
    if num_tokens < 0:
        raise ValueError(f"num_tokens must be >= 0, got {num_tokens}")
    ids = [int(i) for i in np.asarray(prompt_ids).reshape(-1)]
    rng = np.random.default_rng(seed)
    for _ in range(num_tokens):
        ids.append(sample_token(next_logits(np.asarray(ids, "int32")), temperature=temperature,
                                top_k=top_k, rng=rng, banned_ids=banned_ids))
    return ids


def causal_next_logits(lm, sequence_length: int):
    """``next_logits`` for a fixed-length causal LM ``lm: ids [B, T] -> logits [B, T', V]`` (T' >= T;
    position t predicts token t+1): a context shorter than T is right-padded with 0 (the causal LM
    never sees the padding), a longer one cut to its last T tokens (a sliding window)."""
    def next_logits(context):
        context = np.asarray(context, "int32").reshape(-1)[-sequence_length:]
        if context.size == 0:
            raise ValueError("a causal LM needs at least one context token")
        window = np.zeros((1, sequence_length), "int32")
        window[0, :context.size] = context
        return np.asarray(lm(window))[0, context.size - 1]

    return next_logits
