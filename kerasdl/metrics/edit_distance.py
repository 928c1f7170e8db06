"""Character and word error rates (text recognition, speech): Levenshtein edit distance over
characters or whitespace-separated words, summed over the corpus and divided by the total reference
length — ``Σ d(ref, hyp) / Σ |ref|`` (insertions, deletions and substitutions cost 1), computed with
``tf.edit_distance``. Can exceed 1 when hypotheses are much longer than references.
"""
from __future__ import annotations

import numpy as np

UNITS = ("char", "word")


def _tokens(text: str, unit: str) -> list[str]:
    return list(text) if unit == "char" else text.split()


def edit_distances(references, hypotheses, unit: str = "char") -> np.ndarray:
    """Levenshtein distance of each (reference, hypothesis) pair, in characters or words."""
    import tensorflow as tf

    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses) or not references:
        raise ValueError(f"need equally many references and hypotheses (at least one), got "
                         f"{len(references)} and {len(hypotheses)}")

    def sparse(texts):
        ragged = tf.ragged.constant([_tokens(t, unit) for t in texts], dtype=tf.string, ragged_rank=1)
        return ragged.to_sparse()

    return tf.edit_distance(sparse(hypotheses), sparse(references), normalize=False).numpy().astype(np.int64)


def error_rate(references, hypotheses, unit: str = "char") -> float:
    """Corpus error rate: total edit distance over total reference length (in ``unit``s)."""
    total = sum(len(_tokens(t, unit)) for t in references)
    if total == 0:
        raise ValueError("the references are empty: an error rate needs at least one reference token")
    return float(edit_distances(references, hypotheses, unit).sum() / total)


def character_error_rate(references, hypotheses) -> float:
    return error_rate(references, hypotheses, "char")


def word_error_rate(references, hypotheses) -> float:
    return error_rate(references, hypotheses, "word")
