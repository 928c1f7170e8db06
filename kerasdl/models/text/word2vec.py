"""word2vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling (their vectors are
evaluated by :mod:`kerasdl.analysis.word_vectors`).

Both models score candidate words: ``(inputs, candidates [B, 1+K]) -> logits [B, 1+K]``, the dot
product of an input vector with each candidate's output ("context") vector. The first candidate
is the observed word (label 1), the other K are negatives drawn from unigram^0.75 (label 0);
train with ``BinaryCrossentropy(from_logits=True)``. Training data: :mod:`kerasdl.data.word2vec`.

- ``skipgram``: inputs = centre word ids ``[B, 1]``; candidates = a context word + negatives.
- ``cbow``: inputs = the context window ``[B, 2*window]`` (0 = padding, masked out of the mean);
  candidates = the centre word + negatives. A window must hold at least one word (an all-padding
  row averages nothing and gives NaN).

Initialisation follows word2vec.c: input vectors uniform in ±0.5/dim, output vectors zero.
``model.word_vectors()`` returns the input embeddings, the vectors word2vec and gensim publish.
Not ``deployable``: what a device uses is the vector table (``word_vectors()``, exported as a
file), not this training-time scorer — and ``kerasdl.export`` converts single-input models only.
"""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.models.base import FunctionalModel, register_model

# word2vec.c's init (zero output vectors) starts slowly: 20 Adam steps need a wide vector
_SMALL = {"vocab_size": 50, "embedding_dim": 128, "num_negatives": 3}


class _Word2Vec(FunctionalModel):
    """Shared parts: the two embedding tables and the candidate scoring head."""

    @staticmethod
    def _tables(vocab_size, embedding_dim, mask_zero=False):
        if vocab_size < 3 or embedding_dim < 1:
            raise ValueError(f"vocab_size must be >= 3 (ids 0 and 1 are reserved) and "
                             f"embedding_dim >= 1, got {vocab_size} and {embedding_dim}")
        bound = 0.5 / embedding_dim
        words = keras.layers.Embedding(
            vocab_size, embedding_dim, mask_zero=mask_zero, name="word_embedding",
            embeddings_initializer=keras.initializers.RandomUniform(-bound, bound))
        contexts = keras.layers.Embedding(vocab_size, embedding_dim, name="context_embedding",
                                          embeddings_initializer="zeros")
        return words, contexts

    @staticmethod
    def _score(vector, candidates, context_table):
        """``vector [B, 1, D]`` · each candidate's output vector -> float32 logits ``[B, 1+K]``."""
        logits = keras.layers.Dot(axes=2, name="dot", dtype="float32")(
            [vector, context_table(candidates)])
        return keras.layers.Flatten(name="logits", dtype="float32")(logits)

    @staticmethod
    def _candidates(num_negatives):
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
        return keras.Input((1 + num_negatives,), dtype="int32", name="candidates")

    def word_vectors(self) -> np.ndarray:
        """The input embeddings ``[vocab_size, embedding_dim]`` (row i = id i)."""
        return keras.ops.convert_to_numpy(self.get_layer("word_embedding").embeddings)


@register_model("skipgram", tags=("text", "embedding"), task="word2vec", small=_SMALL,
                deployable=False)
class SkipGram(_Word2Vec):
    """Skip-gram with negative sampling: the centre word's vector scores context candidates."""

    @staticmethod
    def build_graph(vocab_size=10_000, embedding_dim=100, num_negatives=5):
        words, contexts = _Word2Vec._tables(vocab_size, embedding_dim)
        word = keras.Input((1,), dtype="int32", name="word")
        candidates = _Word2Vec._candidates(num_negatives)
        logits = _Word2Vec._score(words(word), candidates, contexts)
        return (word, candidates), logits


@register_model("cbow", tags=("text", "embedding"), task="word2vec",
                small={**_SMALL, "window": 2}, deployable=False)
class CBOW(_Word2Vec):
    """Continuous bag of words: the mean of the context vectors scores centre-word candidates."""

    @staticmethod
    def build_graph(vocab_size=10_000, embedding_dim=100, num_negatives=5, window=5):
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        words, contexts = _Word2Vec._tables(vocab_size, embedding_dim, mask_zero=True)
        context = keras.Input((2 * window,), dtype="int32", name="context")
        candidates = _Word2Vec._candidates(num_negatives)
        mean = keras.layers.GlobalAveragePooling1D(name="context_mean")(words(context))
        mean = keras.layers.Reshape((1, embedding_dim), name="context_vector")(mean)
        logits = _Word2Vec._score(mean, candidates, contexts)
        return (context, candidates), logits
