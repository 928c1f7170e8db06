"""word2vec training data: tokenising, vocabulary, frequent-word subsampling, dynamic windows,
negative sampling and the tf.data pipeline (Mikolov et al. 2013, as word2vec.c and gensim do it).

- :func:`tokenize` — text8-style: lowercase, every run of letters a-z is a word, everything else
  separates words (so "sister's" -> "sister", "s"); sentences are paragraphs (blank-line separated);
  windows never cross a sentence boundary.
- :func:`build_vocabulary` — words with at least ``min_count`` occurrences, most frequent first,
  after the reserved ids 0 = padding and 1 = ``[UNK]`` (TextVectorization's convention);
  rarer words are dropped from the corpus before windowing (as gensim does), not mapped to UNK.
- :func:`keep_probabilities` — subsampling: a word of corpus frequency ``f`` is kept with
  probability ``min(1, sqrt(t/f) + t/f)`` (word2vec.c and gensim; the paper's discard probability
  ``1 - sqrt(t/f)`` is the same idea without the ``t/f`` term).
- :func:`context_windows` — every centre word's context ids ``[N, 2*window]`` (0 = padding) under
  a per-centre effective window; the dynamic window draws it uniformly from 1..window.
- :func:`negative_sampling_cdf` / :func:`sample_negatives` — negatives from unigram^0.75 by
  inverse-CDF lookup (``tf.searchsorted``).
- :func:`word2vec_dataset` — ``((inputs, candidates [B, 1+K]), labels [B, 1+K])`` with the true
  word first (label 1) and K negatives (label 0): the ``word2vec`` task of tests/contract.py.
  Subsampling, windows and shuffling are drawn afresh on each pass over the dataset
  (``Dataset.random(..., rerandomize_each_iteration=True)``), deterministically from ``seed``.
"""
from __future__ import annotations

import collections
import dataclasses
import re
from typing import Iterable, Sequence

import numpy as np

PAD, UNK = "", "[UNK]"
MODES = ("skipgram", "cbow")
_WORD = re.compile(r"[a-z]+")
_PARAGRAPH = re.compile(r"\n\s*\n")


def tokenize(text: str) -> list[list[str]]:
    """Paragraphs of lowercase a-z words (empty paragraphs dropped)."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
    sentences = (_WORD.findall(p.lower()) for p in _PARAGRAPH.split(text))
    return [s for s in sentences if s]


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """``words[i]`` has id ``i`` and corpus count ``counts[i]`` (0 for the reserved ids 0 and 1)."""

    words: tuple[str, ...]
    counts: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.words)})

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self._index and self._index[word] > 1

    def id(self, word: str) -> int:
        """The word's id, 1 (``[UNK]``) when it is not in the vocabulary."""
        return self._index.get(word, 1)

    def encode(self, sentences: Iterable[Sequence[str]]) -> list[np.ndarray]:
        """Each sentence as int32 ids with out-of-vocabulary words dropped (empty ones kept)."""
        return [np.asarray([self._index[w] for w in s if w in self], np.int32) for s in sentences]


def build_vocabulary(sentences: Iterable[Sequence[str]], min_count: int = 5,
                     max_size: int | None = None) -> Vocabulary:
    """Words seen at least ``min_count`` times, by descending count (ties: first seen first)."""
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    counter = collections.Counter(w for s in sentences for w in s)
    kept = [(w, c) for w, c in counter.most_common() if c >= min_count and w not in (PAD, UNK)]
    if max_size is not None:
        kept = kept[:max(0, max_size - 2)]
    if not kept:
        raise ValueError(f"no word occurs at least min_count={min_count} times: empty vocabulary")
    words, counts = zip(*kept)
    return Vocabulary((PAD, UNK, *words), np.asarray((0, 0, *counts), np.int64))


def keep_probabilities(counts, sample: float = 1e-3) -> np.ndarray:
    """Subsampling keep-probability per id: ``min(1, sqrt(t/f) + t/f)`` with ``f = count/total``
    (``sample`` = t; 0 keeps everything). Ids with count 0 (padding, UNK) get 0."""
    counts = np.asarray(counts, np.float64)
    if sample < 0:
        raise ValueError(f"sample must be >= 0, got {sample}")
    if counts.sum() <= 0:
        raise ValueError("counts are all zero")
    present = counts > 0
    if sample == 0:
        return present.astype(np.float64)
    ratio = np.divide(sample * counts.sum(), counts, out=np.zeros_like(counts), where=present)
    return np.where(present, np.minimum(1.0, np.sqrt(ratio) + ratio), 0.0)


def negative_sampling_distribution(counts, power: float = 0.75) -> np.ndarray:
    """``count^power`` normalised (ids with count 0 are never drawn)."""
    weights = np.asarray(counts, np.float64) ** power
    if weights.sum() <= 0:
        raise ValueError("counts are all zero: nothing to sample negatives from")
    return weights / weights.sum()


def negative_sampling_cdf(counts, power: float = 0.75):
    """The cumulative distribution of :func:`negative_sampling_distribution` as a float32 tensor
    whose last entry is exactly 1."""
    import tensorflow as tf

    cdf = np.cumsum(negative_sampling_distribution(counts, power))
    cdf /= cdf[-1]
    return tf.constant(cdf, tf.float32)


def sample_negatives(cdf, shape, seed):
    """int32 ids of ``shape`` drawn by inverse CDF: id i with probability ``cdf[i] - cdf[i-1]``.
    ``seed``: a stateless seed (shape [2] integers)."""
    import tensorflow as tf

    u = tf.random.stateless_uniform(shape, seed, dtype=tf.float32)
    ids = tf.searchsorted(cdf, tf.reshape(u, [-1]), side="right", out_type=tf.int32)
    ids = tf.minimum(ids, tf.shape(cdf, out_type=tf.int32)[0] - 1)  # guards u rounding to cdf[-1]
    return tf.reshape(ids, shape)


def flatten_corpus(encoded: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ids and, per token, the index of its sentence (int32, int32)."""
    lengths = np.asarray([len(s) for s in encoded], np.int64)
    if lengths.sum() == 0:
        raise ValueError("the encoded corpus is empty (no in-vocabulary words)")
    ids = np.concatenate([np.asarray(s, np.int32) for s in encoded])
    return ids, np.repeat(np.arange(len(encoded), dtype=np.int32), lengths)


def context_windows(ids, sentence_ids, windows, max_window: int):
    """Context ids ``[N, 2*max_window]`` of each centre ``ids[i]``: columns hold offsets
    ``-max_window..-1, 1..max_window``; an entry is ``ids[i+d]`` when ``|d| <= windows[i]`` and
    ``i+d`` lies in the same sentence, else 0 (padding)."""
    import tensorflow as tf

    ids = tf.convert_to_tensor(ids, tf.int32)
    sentence_ids = tf.convert_to_tensor(sentence_ids, tf.int32)
    windows = tf.convert_to_tensor(windows, tf.int32)
    n = tf.shape(ids)[0]
    columns = []
    for d in [*range(-max_window, 0), *range(1, max_window + 1)]:
        position = tf.range(n) + d
        inside = (position >= 0) & (position < n)
        clipped = tf.clip_by_value(position, 0, tf.maximum(n - 1, 0))
        valid = (inside & (tf.gather(sentence_ids, clipped) == sentence_ids)
                 & (abs(d) <= windows))
        columns.append(tf.where(valid, tf.gather(ids, clipped), 0))
    return tf.stack(columns, axis=1)


def skipgram_pairs(contexts, ids):
    """``(centres [P], contexts [P])`` from :func:`context_windows`: one pair per non-padding
    entry, row by row (centre order), left to right within a row."""
    import tensorflow as tf

    mask = contexts > 0
    centres = tf.broadcast_to(ids[:, None], tf.shape(contexts))
    return tf.boolean_mask(centres, mask), tf.boolean_mask(contexts, mask)


def cbow_examples(contexts, ids):
    """``(contexts [P, 2w], centres [P])``: the centres that have at least one context word."""
    import tensorflow as tf

    keep = tf.reduce_any(contexts > 0, axis=1)
    return tf.boolean_mask(contexts, keep), tf.boolean_mask(ids, keep)


def _epoch_examples(ids, sentence_ids, keep_prob, seed, *, mode, window, dynamic_window):
    """One pass: subsample, draw windows, build and shuffle the examples (stateless in ``seed``)."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, 3)
    keep = tf.random.stateless_uniform(tf.shape(ids), seeds[0]) < tf.gather(keep_prob, ids)
    ids, sentence_ids = tf.boolean_mask(ids, keep), tf.boolean_mask(sentence_ids, keep)
    if dynamic_window:
        windows = tf.random.stateless_uniform(tf.shape(ids), seeds[1], 1, window + 1, tf.int32)
    else:
        windows = tf.fill(tf.shape(ids), window)
    contexts = context_windows(ids, sentence_ids, windows, window)
    if mode == "skipgram":
        centres, targets = skipgram_pairs(contexts, ids)
        inputs = tf.expand_dims(centres, 1)  # the centre [P, 1] predicts each context word
    else:
        inputs, targets = cbow_examples(contexts, ids)  # the window [P, 2w] predicts its centre
    order = tf.argsort(tf.random.stateless_uniform(tf.shape(targets), seeds[2]))
    return tf.gather(inputs, order), tf.gather(targets, order)


def expected_examples(encoded: Sequence[np.ndarray], vocabulary: Vocabulary, *, mode="skipgram",
                      window=5, sample=1e-3, dynamic_window=True) -> float:
    """Expected examples per pass, ignoring sentence edges (for ``steps_per_epoch``)."""
    _check_mode(mode)
    keep = keep_probabilities(vocabulary.counts, sample)
    kept = float(sum(keep[s].sum() for s in encoded))
    if mode == "cbow":
        return kept
    mean_window = (window + 1) / 2 if dynamic_window else window
    return kept * 2 * mean_window


def _check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def word2vec_dataset(encoded: Sequence[np.ndarray], vocabulary: Vocabulary, *, mode="skipgram",
                     window=5, num_negatives=5, sample=1e-3, batch_size=1024, dynamic_window=True,
                     power=0.75, seed=0):
    """Batches ``((inputs, candidates), labels)`` for the ``skipgram`` / ``cbow`` models.

    skipgram: inputs = centre ids [B, 1], candidates = [context, K negatives];
    cbow: inputs = context ids [B, 2*window] (0-padded), candidates = [centre, K negatives].
    labels [B, 1+K] float32 = [1, 0, ..., 0]. A negative equal to the true word is redrawn once
    (word2vec.c skips it; a fixed [1+K] shape cannot). Each pass over the dataset draws new
    subsampling, windows, order and negatives; batches are full (the remainder is dropped).
    """
    import tensorflow as tf

    _check_mode(mode)
    if window < 1 or num_negatives < 1 or batch_size < 1:
        raise ValueError(f"window, num_negatives and batch_size must be >= 1, got "
                         f"{window}, {num_negatives}, {batch_size}")
    ids, sentence_ids = flatten_corpus(encoded)
    if ids.max() >= len(vocabulary) or ids.min() < 2:
        raise ValueError("encoded ids must be vocabulary word ids (2 <= id < len(vocabulary))")
    expected = expected_examples(encoded, vocabulary, mode=mode, window=window, sample=sample,
                                 dynamic_window=dynamic_window)
    if expected < batch_size:
        raise ValueError(f"the corpus gives about {expected:.0f} {mode} examples per pass, fewer "
                         f"than one batch of {batch_size}; use a smaller batch_size or more text")
    ids, sentence_ids = tf.constant(ids), tf.constant(sentence_ids)
    keep_prob = tf.constant(keep_probabilities(vocabulary.counts, sample), tf.float32)
    cdf = negative_sampling_cdf(vocabulary.counts, power)
    k = num_negatives

    def one_pass(random_value):
        epoch_seed = tf.stack([random_value, tf.constant(seed, tf.int64)])
        inputs, targets = _epoch_examples(ids, sentence_ids, keep_prob, epoch_seed, mode=mode,
                                          window=window, dynamic_window=dynamic_window)
        batches = tf.shape(targets)[0] // batch_size  # whole batches: slice batches, not pairs
        inputs = tf.reshape(inputs[:batches * batch_size], [batches, batch_size, inputs.shape[-1]])
        targets = tf.reshape(targets[:batches * batch_size], [batches, batch_size])
        return tf.data.Dataset.from_tensor_slices((inputs, targets))

    def add_negatives(batch, random_value):
        (inputs, targets) = batch
        s1, s2 = tf.unstack(tf.random.experimental.stateless_split(
            tf.stack([random_value, tf.constant(seed, tf.int64)]), 2))
        negatives = sample_negatives(cdf, [batch_size, k], s1)
        redraw = sample_negatives(cdf, [batch_size, k], s2)
        negatives = tf.where(negatives == targets[:, None], redraw, negatives)
        candidates = tf.concat([targets[:, None], negatives], axis=1)
        labels = tf.concat([tf.ones([batch_size, 1]), tf.zeros([batch_size, k])], axis=1)
        return (inputs, candidates), labels

    examples = (tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
                .flat_map(one_pass))
    noise = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True)
    return (tf.data.Dataset.zip(examples, noise)
            .map(add_negatives, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
