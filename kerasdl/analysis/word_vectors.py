"""Evaluating word vectors: cosine nearest neighbours, 3CosAdd analogies (Mikolov et al. 2013's
questions-words.txt) and word-similarity correlation (WordSim-353). Works for any embedding table:
``WordVectors(model.word_vectors(), words)`` or gensim's ``WordVectors(kv.vectors, kv.index_to_key)``.
"""
from __future__ import annotations

import numpy as np

SEMANTIC_SECTIONS = ("capital-common-countries", "capital-world", "currency", "city-in-state",
                     "family")


class WordVectors:
    """Unit-normalised word vectors with cosine nearest neighbours, analogies and similarity.

    ``vectors[i]`` belongs to ``words[i]``; rows whose word is empty or ``[UNK]`` (the reserved
    ids) are never returned as answers. The same code evaluates any embedding (also gensim's
    ``KeyedVectors``: ``WordVectors(kv.vectors, kv.index_to_key)``).
    """

    def __init__(self, vectors, words):
        vectors = np.asarray(vectors, np.float64)
        if vectors.ndim != 2 or len(vectors) != len(words):
            raise ValueError(f"vectors must be [len(words), dim]; got {vectors.shape} for "
                             f"{len(words)} words")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words) if w not in ("", "[UNK]")}
        self._answerable = np.zeros(len(self.words), bool)
        self._answerable[list(self.index.values())] = True

    def __contains__(self, word) -> bool:
        return word in self.index

    def _id(self, word) -> int:
        if word not in self.index:
            raise KeyError(f"{word!r} is not in the vocabulary")
        return self.index[word]

    def _ranked(self, query, exclude, k):
        scores = self.unit @ (query / max(np.linalg.norm(query), 1e-12))
        scores[~self._answerable] = -np.inf
        scores[list(exclude)] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        return [(self.words[i], float(scores[i])) for i in top]

    def nearest(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` words of highest cosine similarity to ``word`` (itself excluded)."""
        i = self._id(word)
        return self._ranked(self.unit[i], [i], k)

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """3CosAdd: a is to b as c is to argmax cos(x, b̂ - â + ĉ), x not in {a, b, c}."""
        ia, ib, ic = self._id(a), self._id(b), self._id(c)
        return self._ranked(self.unit[ib] - self.unit[ia] + self.unit[ic], [ia, ib, ic], k)

    def evaluate_analogies(self, questions: dict) -> dict:
        """Accuracy per section on the questions whose four words are all in the vocabulary;
        ``coverage`` = covered / all questions. Sections named in ``SEMANTIC_SECTIONS`` count as
        semantic, the rest as syntactic."""
        sections, totals = {}, {"semantic": [0, 0, 0], "syntactic": [0, 0, 0]}
        for name, items in questions.items():
            covered = [q for q in items if all(w in self.index for w in q)]
            correct = 0
            if covered:
                ids = np.asarray([[self.index[w] for w in q] for q in covered])
                queries = self.unit[ids[:, 1]] - self.unit[ids[:, 0]] + self.unit[ids[:, 2]]
                scores = queries @ self.unit.T
                scores[:, ~self._answerable] = -np.inf
                rows = np.arange(len(ids))[:, None]
                scores[rows, ids[:, :3]] = -np.inf
                correct = int((scores.argmax(axis=1) == ids[:, 3]).sum())
            sections[name] = {"correct": correct, "covered": len(covered), "total": len(items),
                              "accuracy": correct / len(covered) if covered else None}
            kind = totals["semantic" if name in SEMANTIC_SECTIONS else "syntactic"]
            for j, v in enumerate((correct, len(covered), len(items))):
                kind[j] += v
        summary = {}
        for kind, (correct, covered, total) in {
                **totals, "all": [sum(t[j] for t in totals.values()) for j in range(3)]}.items():
            summary[kind] = {"correct": correct, "covered": covered, "total": total,
                             "coverage": covered / total if total else 0.0,
                             "accuracy": correct / covered if covered else None}
        return {**summary, "sections": sections}

    def evaluate_similarity(self, pairs) -> dict:
        """Spearman correlation of cosine similarity with human scores on ``(w1, w2, score)``
        pairs whose words are both in the vocabulary."""
        from scipy.stats import spearmanr

        pairs = list(pairs)
        covered = [(a, b, s) for a, b, s in pairs if a in self.index and b in self.index]
        result = {"covered": len(covered), "total": len(pairs), "spearman": None}
        if len(covered) >= 2:
            cosines = [float(self.unit[self.index[a]] @ self.unit[self.index[b]])
                       for a, b, _ in covered]
            result["spearman"] = float(spearmanr(cosines, [s for *_, s in covered]).statistic)
        return result


def read_word_pairs(path) -> list[tuple[str, str, float]]:
    """``(word1, word2, score)`` from a tab-separated file (gensim's wordsim353.tsv format;
    lines starting with ``#`` are comments), words lowercased."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b, score = line.rstrip("\n").split("\t")[:3]
            pairs.append((a.lower(), b.lower(), float(score)))
    if not pairs:
        raise ValueError(f"{path} holds no word pairs")
    return pairs
