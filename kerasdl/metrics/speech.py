"""Speech recognition scores: edit distance, word (here: digit) error rate, per-speaker means."""
from __future__ import annotations

import numpy as np


def edit_distance(reference, hypothesis) -> int:
    """Levenshtein distance (substitutions, insertions, deletions) between two sequences."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def word_error_rate(references, hypotheses) -> float:
    """Total edit distance over total reference length (each token a word: for digit strings,
    the digit error rate)."""
    if len(references) != len(hypotheses) or not len(references):
        raise ValueError(f"need as many hypotheses as references (>0), got {len(hypotheses)} and "
                         f"{len(references)}")
    words = sum(len(r) for r in references)
    if words == 0:
        raise ValueError("references are all empty")
    return sum(edit_distance(r, h) for r, h in zip(references, hypotheses)) / words


def per_group(groups, values) -> dict:
    """Mean of ``values`` for each distinct group (e.g. held-out voice), in first-seen order."""
    groups, values = np.asarray(groups), np.asarray(values, "float64")
    if len(groups) != len(values):
        raise ValueError(f"groups and values lengths differ: {len(groups)} vs {len(values)}")
    return {str(g): float(values[groups == g].mean()) for g in dict.fromkeys(groups.tolist())}
