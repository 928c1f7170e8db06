"""TextCNN (Kim 2014, "Convolutional Neural Networks for Sentence Classification").

Token ids -> embedding -> parallel Conv1D branches (widths 3, 4, 5 × 100 feature maps, ReLU) ->
max-over-time pooling per branch -> concatenation -> dropout 0.5 -> dense logits. Kim's
CNN-rand/-static reach 76.1–81.5% on the sentence-polarity data (MR) this repo's Rotten Tomatoes
set comes from. Padding (id 0) gets its own learned embedding; no mask is needed because the
max over time picks the strongest n-gram wherever it is.
"""
from __future__ import annotations

import keras

from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.text.inputs import token_ids_input


@register_model("textcnn", tags=("text", "classifier", "cnn"), task="text_classification",
                small={"vocab_size": 50, "sequence_length": 12, "embedding_dim": 8, "filters": 4,
                       "dropout": 0.1},
                deployable=True)
class TextCNN(FunctionalModel):
    """Kim (2014) sentence CNN: one Conv1D + global max-pool branch per kernel width."""

    @staticmethod
    def build_graph(vocab_size=20000, sequence_length=64, num_classes=2, embedding_dim=128,
                    kernel_sizes=(3, 4, 5), filters=100, dropout=0.5, embedding_dropout=0.0):
        if max(kernel_sizes) > sequence_length:
            raise ValueError(f"kernel sizes {tuple(kernel_sizes)} exceed sequence_length {sequence_length}")
        ids = token_ids_input(sequence_length)
        x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(ids)
        if embedding_dropout:
            x = keras.layers.Dropout(embedding_dropout, name="embedding_dropout")(x)
        branches = []
        for width in kernel_sizes:
            h = keras.layers.Conv1D(filters, width, activation="relu", name=f"conv{width}")(x)
            branches.append(keras.layers.GlobalMaxPooling1D(name=f"max_over_time{width}")(h))
        x = branches[0] if len(branches) == 1 else keras.layers.Concatenate(name="concat")(branches)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
        return ids, outputs
