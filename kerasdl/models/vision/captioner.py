"""Show, Attend and Tell (Xu et al. 2015): CNN encoder + LSTM decoder with soft attention.

Task "captioning": inputs ``(images [B, H, W, C], caption_in ids [B, T])`` -> logits ``[B, T, V]``,
teacher-forced like the seq2seq task (``caption_in = <bos> + caption[:-1]``; 0 = padding).

- Encoder: ``conv_bn_act`` blocks, each max-pooled 2x2; the ``[H/2^n, W/2^n, C]`` grid is the set of
  L annotation vectors ``a_i`` the decoder attends over (the paper's 14x14 VGG conv5 grid).
- Initial state: ``h_0, c_0 = tanh(W · mean_i a_i)`` (the paper's f_init,h / f_init,c).
- Decoder: ``kerasdl.models.text.seq2seq.BahdanauDecoder`` with an LSTM cell — step t scores every
  a_i with the previous state, ``α_t = softmax(vᵀ tanh(W_q h_{t-1} + W_k a_i))``, takes the soft context
  ``z_t = Σ α_ti a_i`` and feeds ``[E y_{t-1}; z_t]`` to the LSTM: the paper's deterministic soft
  attention. Deep output ``tanh(W [h_t; z_t; E y_{t-1}])`` -> LayerNorm -> logits.

:func:`attention_model` gives a weight-sharing twin that also returns ``α [B, T, L]``;
:func:`next_token_logits` adapts a captioner to ``kerasdl.models.text.decoding``'s greedy and beam
search, with each "source" an index into an image array.
"""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.layers.blocks import conv_bn_act
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.text.inputs import token_ids_input
from kerasdl.models.text.seq2seq import BahdanauDecoder


@register_model("show_attend_tell", tags=("vision", "captioning", "attention"), task="captioning",
                small={"image_height": 16, "image_width": 32, "vocab_size": 12, "caption_length": 5,
                       "filters": (8, 16), "embedding_dim": 16, "units": 32, "dropout": 0.0})
class ShowAttendTell(FunctionalModel):
    """CNN encoder + soft-attention LSTM decoder (see the module doc).

    Args: ``image_height``/``image_width``/``channels`` (fixed; divisible by ``2**len(filters)``),
    ``vocab_size`` (ids, 0 = padding), ``caption_length`` (fixed T), ``filters`` (one pooled conv
    block each), ``embedding_dim``, ``units`` (LSTM and attention width), ``dropout``.
    """

    @staticmethod
    def build_graph(image_height=32, image_width=96, channels=1, vocab_size=20, caption_length=11,
                    filters=(32, 64, 128), embedding_dim=64, units=128, dropout=0.1):
        filters = tuple(int(f) for f in filters)
        scale = 2 ** len(filters)
        if not filters or image_height % scale or image_width % scale:
            raise ValueError(f"image size {image_height}x{image_width} must be divisible by 2**len(filters) "
                             f"= {scale} (filters={filters})")
        images = keras.Input((image_height, image_width, channels), name="images")
        caption_in = token_ids_input(caption_length, name="caption_in")
        x = images
        for i, f in enumerate(filters):
            x = conv_bn_act(x, f, name=f"block{i + 1}")
            x = keras.layers.MaxPooling2D(2, name=f"block{i + 1}_pool")(x)
        grid = (image_height // scale) * (image_width // scale)
        annotations = keras.layers.Reshape((grid, filters[-1]), name="annotations")(x)  # [B, L, D]
        mean = keras.layers.GlobalAveragePooling1D(name="mean_annotation")(annotations)
        state = [keras.layers.Dense(units, activation="tanh", name=f"init_{s}")(mean) for s in ("h", "c")]
        y = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(caption_in)
        y = keras.layers.Dropout(dropout, name="embedding_dropout")(y)
        decoded, contexts, _ = BahdanauDecoder(units, cell="lstm", name="decoder")(y, annotations, state)
        features = keras.layers.Dense(units, activation="tanh", name="deep_output")(
            keras.layers.Concatenate(name="output_features")([decoded, contexts, y]))
        features = keras.layers.LayerNormalization(name="output_norm")(features)
        features = keras.layers.Dropout(dropout, name="output_dropout")(features)
        logits = keras.layers.Dense(vocab_size, dtype="float32", name="logits")(features)
        return (images, caption_in), logits


def attention_model(model: keras.Model) -> keras.Model:
    """``(images, caption_in) -> (logits [B, T, V], α [B, T, L])``, sharing the captioner's weights."""
    return keras.Model(model.inputs, [model.outputs[0], model.get_layer("decoder").output[2]],
                       name=f"{model.name}_attention")


def attention_grid(model: keras.Model) -> tuple[int, int]:
    """(rows, columns) of the annotation grid: how α's L positions tile the image."""
    config = model.get_config()
    scale = 2 ** len(config["filters"])
    return config["image_height"] // scale, config["image_width"] // scale


def next_token_logits(model: keras.Model, images, *, batch_size: int = 512, pad_id: int = 0):
    """``next_token_logits(source_ids [N, 1], prefix_ids [N, t]) -> [N, V]`` for
    ``kerasdl.models.text.decoding``: source id i is ``images[i]``; the prefix (``<bos>`` first) is
    padded to the caption length and the logits at its last position returned (exact: the decoder
    is causal)."""
    import tensorflow as tf

    images = np.asarray(images, np.float32)
    length = model.inputs[1].shape[1]

    @tf.function(reduce_retracing=True)
    def logits_at(x, caption_in, position):
        return tf.gather(model([x, caption_in], training=False), position, axis=1)

    def call(source_ids, prefix_ids):
        index, prefix_ids = np.asarray(source_ids)[:, 0], np.asarray(prefix_ids, np.int32)
        steps = prefix_ids.shape[1]
        if not 1 <= steps <= length:
            raise ValueError(f"prefixes hold 1..{length} tokens for this model, got {steps}")
        caption_in = np.full((len(prefix_ids), length), pad_id, np.int32)
        caption_in[:, :steps] = prefix_ids
        return np.concatenate([logits_at(images[index[i:i + batch_size]], caption_in[i:i + batch_size],
                                         tf.constant(steps - 1)).numpy()
                               for i in range(0, len(index), batch_size)])

    return call


def caption_ids(model, images, *, bos_id: int, eos_id: int, beam_width: int = 1, alpha: float = 0.0):
    """Decoded token id lists (``<eos>`` dropped) for each image: greedy when ``beam_width == 1``."""
    from kerasdl.models.text.decoding import beam_search, greedy_decode

    fn = next_token_logits(model, images)
    sources = np.arange(len(images), dtype=np.int32)[:, None]
    kwargs = {"bos_id": bos_id, "eos_id": eos_id, "max_length": model.inputs[1].shape[1]}
    decoded = (greedy_decode(fn, sources, **kwargs) if beam_width == 1
               else beam_search(fn, sources, beam_width=beam_width, alpha=alpha, **kwargs))
    return decoded.sequences(eos_id)

