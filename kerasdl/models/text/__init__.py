"""Sequence and NLP models: token ids in, logits out (tokenisation lives outside the model,
in ``kerasdl.data.text``, so exported models hold no hash tables)."""
from kerasdl.models.text import (  # noqa: F401
    language_models, rnn_classifier, seq2seq, textcnn, transformer, word2vec)
