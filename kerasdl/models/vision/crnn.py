"""CRNN (Shi, Bai & Yao 2015): convolutional features -> column sequence -> BiLSTM -> CTC.

Task "ctc": a text-line image ``[B, H, W, C]`` -> per-column logits ``[B, T, V + 1]`` with
``T = W / 4`` and class 0 the CTC blank (characters are ``1..V``, as ``keras.losses.CTC`` and
``kerasdl.data.text_lines`` number them). Train with ``keras.losses.CTC()`` (``tf.nn.ctc_loss``).

- Conv stack: ``conv_bn_act`` blocks; the first two max-pool 2x2, the rest 2x1 (height only), as the
  paper does, so each output column sees a narrow vertical strip of the line. The remaining height
  is folded into the channels (``[B, T, H' · C]``) and projected to ``rnn_units``.
- ``num_rnn_layers`` ``Bidirectional(LSTM(unroll=True))`` layers: unrolled over the fixed T, the
  LSTM converts to built-in TFLite ops (a Keras loop becomes a WHILE over TensorLists, which the
  built-in op set rejects), so the network (not the decoder) exports. Measured here: a 2-layer
  BiLSTM unrolled over T = 64 took 200 s to trace its first 3 training steps on the shared CPU;
  train the loop form and export the unrolled twin (same weights).
- :func:`ctc_decode`: greedy (best path) or beam-search decoding of the logits through
  ``keras.ops.ctc_decode`` (``tf.nn.ctc_greedy_decoder`` / ``ctc_beam_search_decoder``), to strings.
"""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.layers.blocks import conv_bn_act
from kerasdl.models.base import FunctionalModel, register_model

DECODING = ("greedy", "beam_search")


@register_model("crnn", tags=("vision", "ocr", "ctc"), task="ctc", deployable=True,
                small={"image_height": 16, "image_width": 32, "vocab_size": 6, "filters": (8, 16),
                       "rnn_units": 16, "num_rnn_layers": 1})
class CRNN(FunctionalModel):
    """Conv feature extractor + BiLSTM over image columns, CTC logits (see the module doc).

    Args: ``image_height``/``image_width`` (fixed; divisible by ``2**len(filters)`` and 4),
    ``channels``, ``vocab_size`` (characters, blank excluded), ``filters`` (one conv block each),
    ``rnn_units`` (per direction), ``num_rnn_layers``, ``dropout`` (before the logits), ``unroll``
    (unrolled LSTMs: built-in TFLite ops; train with ``unroll=False`` — a loop traces and compiles
    far faster at T = 64 — and export ``kerasdl.models.text.language_models.unrolled(model)``).
    """

    @staticmethod
    def build_graph(image_height=32, image_width=256, channels=1, vocab_size=80, filters=(32, 64, 128, 128),
                    rnn_units=128, num_rnn_layers=2, dropout=0.2, unroll=True):
        filters = tuple(int(f) for f in filters)
        if len(filters) < 2:
            raise ValueError(f"filters needs at least 2 conv blocks (the two 2x2 pools), got {filters}")
        if image_height % 2 ** len(filters) or image_width % 4:
            raise ValueError(f"image_height ({image_height}) must be divisible by 2**len(filters) = "
                             f"{2 ** len(filters)} and image_width ({image_width}) by 4")
        if int(vocab_size) < 1 or int(num_rnn_layers) < 1:
            raise ValueError(f"vocab_size and num_rnn_layers must be >= 1, got {vocab_size}, {num_rnn_layers}")
        images = keras.Input((image_height, image_width, channels), name="images")
        x = images
        for i, f in enumerate(filters):
            x = conv_bn_act(x, f, name=f"block{i + 1}")
            x = keras.layers.MaxPooling2D((2, 2) if i < 2 else (2, 1), name=f"block{i + 1}_pool")(x)
        height, columns = image_height // 2 ** len(filters), image_width // 4
        x = keras.layers.Permute((2, 1, 3), name="columns")(x)  # [B, T, H', C]
        x = keras.layers.Reshape((columns, height * filters[-1]), name="column_features")(x)
        x = keras.layers.Dense(rnn_units, activation="relu", name="column_projection")(x)
        for i in range(num_rnn_layers):
            x = keras.layers.Bidirectional(
                keras.layers.LSTM(rnn_units, return_sequences=True, unroll=unroll), name=f"bilstm{i + 1}")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        logits = keras.layers.Dense(vocab_size + 1, dtype="float32", name="logits")(x)
        return images, logits


def ctc_decode(logits, charset: str, strategy: str = "greedy", beam_width: int = 10) -> list[str]:
    """Strings from CTC logits ``[B, T, len(charset) + 1]`` (blank = 0): greedy takes the best class
    per column, merges repeats and drops blanks; beam search keeps ``beam_width`` prefixes."""
    from kerasdl.data.text_lines import decode

    if strategy not in DECODING:
        raise ValueError(f"strategy must be one of {DECODING}, got {strategy!r}")
    logits = np.asarray(logits, np.float32)
    if logits.ndim != 3 or logits.shape[-1] != len(charset) + 1:
        raise ValueError(f"logits must be [batch, steps, {len(charset) + 1}] (charset + blank), got {logits.shape}")
    lengths = np.full(len(logits), logits.shape[1], np.int32)
    decoded, _ = keras.ops.ctc_decode(logits, lengths, strategy=strategy, beam_width=beam_width, mask_index=0)
    return decode(keras.ops.convert_to_numpy(decoded[0]), charset)
