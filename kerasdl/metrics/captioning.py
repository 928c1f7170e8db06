"""Caption metrics: BLEU-1..4, METEOR, ROUGE-L and CIDEr-D of a corpus of hypotheses, each with
one or more references (``references[i]`` is the list of reference strings of ``hypotheses[i]``).
Texts are whitespace-tokenised (lower-case them first if case should not count).

- BLEU-n (Papineni et al. 2002): sacrebleu's corpus BLEU with ``max_ngram_order=n`` (13a
  tokenisation), reported in [0, 1].
- METEOR (Banerjee & Lavie 2005), exact-match module only (no stemming or WordNet synonyms:
  WordNet cannot be downloaded here): unigram alignment in nltk's greedy order, ``F_mean =
  P·R / (α·P + (1−α)·R)`` with α = 0.9, penalty ``γ·(chunks/matches)^β`` (γ = 0.5, β = 3), score
  ``F_mean·(1 − penalty)``, the best over the references, averaged over the corpus — equal to
  ``nltk.translate.meteor_score`` with stemming and synonyms off.
- ROUGE-L (Lin 2004) as the COCO caption evaluation computes it: LCS precision and recall, each the
  maximum over the references, combined as ``(1 + β²)PR / (R + β²P)`` with β = 1.2; corpus mean.
- CIDEr-D (Vedantam et al. 2015) as COCO's ``pycocoevalcap`` computes it: TF-IDF vectors of 1..4-grams
  (document frequencies over the corpus' reference sets), per-n cosine with clipped hypothesis
  weights, times the Gaussian length penalty ``exp(−δ²/2σ²)`` (σ = 6; δ from the bigram counts, as
  that code does), averaged over n and references, ×10; corpus mean.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np


def _check(hypotheses, references):
    hypotheses, references = list(hypotheses), [list(r) for r in references]
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(f"need one reference list per hypothesis (at least one), got {len(hypotheses)} "
                         f"hypotheses and {len(references)} reference lists")
    if any(not refs for refs in references):
        raise ValueError("every hypothesis needs at least one reference")
    return hypotheses, references


def bleu(hypotheses, references, max_order: int = 4) -> float:
    """Corpus BLEU-``max_order`` in [0, 1] (sacrebleu)."""
    from sacrebleu.metrics import BLEU

    hypotheses, references = _check(hypotheses, references)
    width = max(len(r) for r in references)  # a repeated reference changes neither clipping nor lengths
    streams = [[refs[min(k, len(refs) - 1)] for refs in references] for k in range(width)]
    return BLEU(max_ngram_order=max_order).corpus_score(hypotheses, streams).score / 100.0


def _meteor_single(hypothesis: list, reference: list, alpha=0.9, beta=3.0, gamma=0.5) -> float:
    hyp, ref = list(enumerate(hypothesis)), list(enumerate(reference))
    matches = []
    for i in range(len(hyp))[::-1]:  # nltk's order: last hypothesis word first, last free reference match
        for j in range(len(ref))[::-1]:
            if hyp[i][1] == ref[j][1]:
                matches.append((hyp[i][0], ref[j][0]))
                hyp.pop(i)
                ref.pop(j)
                break
    if not matches:
        return 0.0
    matches.sort()
    chunks = 1 + sum(1 for a, b in zip(matches, matches[1:]) if (b[0], b[1]) != (a[0] + 1, a[1] + 1))
    precision, recall = len(matches) / len(hypothesis), len(matches) / len(reference)
    fmean = precision * recall / (alpha * precision + (1 - alpha) * recall)
    return fmean * (1 - gamma * (chunks / len(matches)) ** beta)


def meteor(hypotheses, references) -> float:
    """Corpus mean of exact-match METEOR (module doc)."""
    hypotheses, references = _check(hypotheses, references)
    return float(np.mean([max(_meteor_single(h.split(), r.split()) for r in refs)
                          for h, refs in zip(hypotheses, references)]))


def _lcs(a: list, b: list) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        previous = 0
        for j, y in enumerate(b):
            previous, row[j + 1] = row[j + 1], previous + 1 if x == y else max(row[j + 1], row[j])
    return row[-1]


def rouge_l(hypotheses, references, beta: float = 1.2) -> float:
    """Corpus mean of COCO's ROUGE-L (module doc)."""
    hypotheses, references = _check(hypotheses, references)
    scores = []
    for hyp, refs in zip(hypotheses, references):
        h = hyp.split()
        lcs = [_lcs(r.split(), h) for r in refs]
        p = max(n / len(h) if h else 0.0 for n in lcs)
        r = max(n / len(ref.split()) for n, ref in zip(lcs, refs))
        scores.append((1 + beta ** 2) * p * r / (r + beta ** 2 * p) if p and r else 0.0)
    return float(np.mean(scores))


def _ngrams(text: str, n: int = 4) -> Counter:
    words = text.split()
    return Counter(tuple(words[i:i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


def cider_d(hypotheses, references, n: int = 4, sigma: float = 6.0) -> float:
    """Corpus CIDEr-D as pycocoevalcap computes it (module doc)."""
    hypotheses, references = _check(hypotheses, references)
    ref_counts = [[_ngrams(r, n) for r in refs] for refs in references]
    frequency = Counter(g for counts in ref_counts for g in set().union(*counts))
    log_images = math.log(float(len(hypotheses)))

    def vector(counts):
        vec, norm, length = [{} for _ in range(n)], np.zeros(n), 0
        for gram, tf in counts.items():
            k = len(gram) - 1
            vec[k][gram] = tf * (log_images - math.log(max(1.0, frequency[gram])))
            norm[k] += vec[k][gram] ** 2
            length += tf if k == 1 else 0
        return vec, np.sqrt(norm), length

    scores = []
    for hyp, counts in zip(hypotheses, ref_counts):
        vh, nh, lh = vector(_ngrams(hyp, n))
        total = np.zeros(n)
        for ref in counts:
            vr, nr, lr = vector(ref)
            for k in range(n):
                value = sum(min(w, vr[k].get(g, 0.0)) * vr[k].get(g, 0.0) for g, w in vh[k].items())
                if nh[k] and nr[k]:
                    value /= nh[k] * nr[k]
                total[k] += value * math.exp(-((lh - lr) ** 2) / (2 * sigma ** 2))
        scores.append(total.mean() / len(counts) * 10.0)
    return float(np.mean(scores))


def caption_scores(hypotheses, references) -> dict:
    """Every metric of this module, by name."""
    scores = {f"bleu{k}": bleu(hypotheses, references, k) for k in range(1, 5)}
    scores.update(meteor=meteor(hypotheses, references), rouge_l=rouge_l(hypotheses, references),
                  cider_d=cider_d(hypotheses, references))
    return scores
