"""An interpolated Kneser–Ney n-gram language model: the Markov baseline neural LMs must beat.

Plain Python/numpy, not a Keras model (and not registered). Tokens are any hashable items: a ``str``
gives a character model, a list of words a word model, an id array the same vocabulary a neural LM
uses. Chen & Goodman (1998), "interpolated Kneser–Ney" with one absolute discount per order::

    P_k(w | h) = max(c_k(h w) - D_k, 0) / c_k(h) + D_k * N1+(h •) / c_k(h) * P_{k-1}(w | h')
    P_0(w)     = 1 / V

``h`` holds the last k-1 tokens, ``h'`` drops its oldest one; ``c_n`` are raw counts, ``c_k`` for
lower orders continuation counts ``N1+(• h w)`` (how many distinct tokens precede ``h w``);
``c_k(h) = sum_w c_k(h w)``; a context never seen (``c_k(h) = 0``) passes ``P_{k-1}`` through.
``D_k = n1 / (n1 + 2 n2)`` from the counts of counts unless given. Texts start after ``order - 1``
begin-of-text symbols (which are contexts only, never predicted); tokens outside the vocabulary map
to ``unk``.
"""
from __future__ import annotations

import collections
import math

import numpy as np

_BOS = "<bos>"  # stands for the begin-of-text context symbol (id V, outside the vocabulary)


class KneserNeyLM:
    """Interpolated Kneser–Ney n-gram LM over a fixed vocabulary (see the module docstring).

    Args:
        order: n (1 = unigram).
        discount: one absolute discount in (0, 1) for every order, or ``None`` to estimate
            ``D_k = n1 / (n1 + 2 n2)`` per order from the training counts.
        unk: the token that stands for every token outside the vocabulary.
    """

    def __init__(self, order: int = 5, discount: float | None = None, unk="<unk>"):
        if int(order) < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        if discount is not None and not 0.0 < discount < 1.0:
            raise ValueError(f"discount must be in (0, 1) or None, got {discount}")
        self.order, self.fixed_discount, self.unk = int(order), discount, unk
        self.vocabulary: list = []
        self.discounts: list[float] = []
        self._counts: list[dict] = []  # per order k (index k-1): context -> {token id: count}
        self._totals: list[dict] = []  # per order: context -> sum of its counts

    # ------------------------------------------------------------------------------- fitting
    def fit(self, tokens, vocabulary=None) -> "KneserNeyLM":
        """Count the n-grams of ``tokens``. ``vocabulary``: the predicted tokens (default: the
        training tokens, sorted); ``unk`` is added when missing; training tokens outside a given
        vocabulary count as ``unk``."""
        tokens = list(tokens)
        if not tokens:
            raise ValueError("fit needs a non-empty token sequence")
        if vocabulary is None:
            try:
                vocabulary = sorted(set(tokens))
            except TypeError:  # tokens of mixed types
                vocabulary = sorted(set(tokens), key=repr)
        vocabulary = list(vocabulary)
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError("vocabulary has duplicate tokens")
        if self.unk not in vocabulary:
            vocabulary.append(self.unk)
        self.vocabulary = vocabulary
        self._index = {token: i for i, token in enumerate(vocabulary)}
        ids = self._padded(self.encode(tokens))

        n = self.order
        grams = collections.Counter(zip(*(ids[i:] for i in range(n))))  # each ends at a real token
        levels = [grams]
        for _ in range(n - 1):  # continuation counts: distinct left neighbours of each shorter gram
            levels.append(collections.Counter(gram[1:] for gram in levels[-1]))
        levels.reverse()  # index k-1 holds the k-grams
        self._counts, self._totals, self.discounts = [], [], []
        for level in levels:
            by_context: dict = collections.defaultdict(dict)
            for gram, count in level.items():
                by_context[gram[:-1]][gram[-1]] = count
            self._counts.append(dict(by_context))
            self._totals.append({h: sum(c.values()) for h, c in by_context.items()})
            self.discounts.append(self._discount(level.values()))
        return self

    def _discount(self, counts) -> float:
        if self.fixed_discount is not None:
            return self.fixed_discount
        histogram = collections.Counter(c for c in counts if c <= 2)
        n1, n2 = histogram[1], histogram[2]
        return n1 / (n1 + 2 * n2) if n1 and n2 else 0.5

    # ------------------------------------------------------------------------------ encoding
    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def _check_fitted(self):
        if not self.vocabulary:
            raise RuntimeError("the model is not fitted yet: call fit(tokens) first")

    def encode(self, tokens) -> list[int]:
        """Vocabulary ids of ``tokens`` (out-of-vocabulary tokens -> the id of ``unk``)."""
        self._check_fitted()
        unk = self._index[self.unk]
        return [self._index.get(t, unk) for t in tokens]

    def _padded(self, ids) -> list[int]:
        return [self.vocab_size] * (self.order - 1) + list(ids)  # id V = begin of text

    def _context(self, context) -> tuple:
        """The last ``order - 1`` ids of a text start, begin-of-text padded."""
        ids = self._padded(self.encode(context))
        return tuple(ids[len(ids) - (self.order - 1):]) if self.order > 1 else ()

    # ---------------------------------------------------------------------------- inference
    def _probability(self, w: int, history: tuple) -> float:
        p = 1.0 / self.vocab_size
        for k in range(1, self.order + 1):  # from unigrams up, interpolating
            h = history[len(history) - (k - 1):] if k > 1 else ()
            total = self._totals[k - 1].get(h)
            if not total:
                continue
            children, d = self._counts[k - 1][h], self.discounts[k - 1]
            p = (max(children.get(w, 0) - d, 0.0) + d * len(children) * p) / total
        return p

    def distribution(self, context=()) -> np.ndarray:
        """``P(w | context)`` for every vocabulary token (in vocabulary order; sums to 1).
        ``context``: the tokens since the start of the text (only the last ``order - 1`` count)."""
        self._check_fitted()
        history = self._context(context)
        p = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for k in range(1, self.order + 1):
            h = history[len(history) - (k - 1):] if k > 1 else ()
            total = self._totals[k - 1].get(h)
            if not total:
                continue
            children, d = self._counts[k - 1][h], self.discounts[k - 1]
            counts = np.zeros(self.vocab_size)
            counts[list(children)] = list(children.values())
            p = (np.maximum(counts - d, 0.0) + d * len(children) * p) / total
        return p

    def probability(self, token, context=()) -> float:
        """``P(token | context)``; ``context`` as in :meth:`distribution`."""
        self._check_fitted()
        return self._probability(self.encode([token])[0], self._context(context))

    def log_probs(self, tokens) -> np.ndarray:
        """Natural log-probability of each token given the ones before it (from a text start)."""
        self._check_fitted()
        ids = self._padded(self.encode(tokens))
        h = self.order - 1
        return np.array([math.log(self._probability(ids[i], tuple(ids[i - h:i])))
                         for i in range(h, len(ids))])

    def cross_entropy(self, tokens, base: float = 2.0) -> float:
        """Mean negative log-probability per token (base 2: bits per token/character)."""
        lp = self.log_probs(tokens)
        if lp.size == 0:
            raise ValueError("cross_entropy needs a non-empty token sequence")
        return float(-lp.mean() / math.log(base))

    def perplexity(self, tokens) -> float:
        return float(2.0 ** self.cross_entropy(tokens, base=2.0))
