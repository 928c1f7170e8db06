"""Keyword spotting over raw waveforms: a CNN, a CRNN and a small attention model.

All three share :func:`waveform_features` (log-mel in the model) and end in class logits.

* ``kws_cnn`` — conv-BN-ReLU stages with max pooling over the [frames, mels] image, global
  average pooling (Sainath & Parada 2015, in the style of the Speech Commands baselines).
* ``kws_crnn`` — a conv stage that pools frequency, then a bidirectional GRU over time and
  the mean of its outputs (Arik et al. 2017, "Convolutional recurrent neural networks for
  small-footprint keyword spotting"). GRUs are unrolled: TFLite has no fused GRU.
* ``kws_attention`` — a strided conv stem, sinusoidal positions and Transformer encoder blocks,
  mean-pooled (a small keyword transformer, Berg et al. 2021).
"""
from __future__ import annotations

import keras

from kerasdl.layers.conv import ConvBNAct
from kerasdl.layers.transformer import PositionalEncoding, TransformerEncoderBlock
from kerasdl.models.audio.frontend import waveform_features
from kerasdl.models.base import FunctionalModel, register_model

_SMALL_FRONTEND = {"samples": 1600, "sample_rate": 8000, "frame_length": 200, "frame_step": 160,
                   "fft_length": 256, "num_mel_bins": 16}


def _head(x, num_classes, dropout):
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.layers.Dense(num_classes, name="logits")(x)


def _conv_stage(x, filters, pool, name):
    x = ConvBNAct(filters, 3, name=f"{name}_conv")(x)
    return keras.layers.MaxPooling2D(pool, padding="same", name=f"{name}_pool")(x)


@register_model("kws_cnn", task="classification", deployable=True,
                small={**_SMALL_FRONTEND, "num_classes": 4, "width": 4})
class KeywordCNN(FunctionalModel):
    @staticmethod
    def build_graph(num_classes=16, samples=16000, width=16, stages=3, dropout=0.2,
                    spec_augment=True, sample_rate=16000, frame_length=400, frame_step=160,
                    fft_length=512, num_mel_bins=40):
        waveform, x = waveform_features(samples, sample_rate=sample_rate, frame_length=frame_length,
                                        frame_step=frame_step, fft_length=fft_length,
                                        num_mel_bins=num_mel_bins, spec_augment=spec_augment)
        x = keras.layers.Reshape((*x.shape[1:], 1), name="as_image")(x)
        for i in range(stages):
            x = _conv_stage(x, width * 2 ** i, 2, f"stage{i + 1}")
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        return waveform, _head(x, num_classes, dropout)


def conv_recurrent_encoder(x, width, units, freq_pool=2, time_stride=1, name="crnn"):
    """[B, frames, bins] features -> conv (pools frequency by ``freq_pool``, time by
    ``time_stride``) -> bidirectional unrolled GRU ``[B, frames', 2 * units]``."""
    x = keras.layers.Reshape((*x.shape[1:], 1), name=f"{name}_image")(x)
    x = ConvBNAct(width, 3, name=f"{name}_conv1")(x)
    x = keras.layers.MaxPooling2D((time_stride, freq_pool), name=f"{name}_pool1")(x)
    x = ConvBNAct(width, 3, name=f"{name}_conv2")(x)
    x = keras.layers.MaxPooling2D((1, freq_pool), name=f"{name}_pool2")(x)
    x = keras.layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]), name=f"{name}_sequence")(x)
    gru = keras.layers.GRU(units, return_sequences=True, unroll=True)
    return keras.layers.Bidirectional(gru, name=f"{name}_bigru")(x)


@register_model("kws_crnn", task="classification", deployable=True,
                small={**_SMALL_FRONTEND, "num_classes": 4, "width": 4, "units": 8})
class KeywordCRNN(FunctionalModel):
    @staticmethod
    def build_graph(num_classes=16, samples=16000, width=16, units=32, dropout=0.2,
                    spec_augment=True, sample_rate=16000, frame_length=400, frame_step=160,
                    fft_length=512, num_mel_bins=40):
        waveform, x = waveform_features(samples, sample_rate=sample_rate, frame_length=frame_length,
                                        frame_step=frame_step, fft_length=fft_length,
                                        num_mel_bins=num_mel_bins, spec_augment=spec_augment)
        x = conv_recurrent_encoder(x, width, units, time_stride=2)
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        return waveform, _head(x, num_classes, dropout)


@register_model("kws_attention", task="classification", deployable=True,
                small={**_SMALL_FRONTEND, "num_classes": 4, "d_model": 16, "num_heads": 2,
                       "num_layers": 1})
class KeywordAttention(FunctionalModel):
    @staticmethod
    def build_graph(num_classes=16, samples=16000, d_model=64, num_heads=4, num_layers=2,
                    dropout=0.1, spec_augment=True, sample_rate=16000, frame_length=400, frame_step=160,
                    fft_length=512, num_mel_bins=40):
        waveform, x = waveform_features(samples, sample_rate=sample_rate, frame_length=frame_length,
                                        frame_step=frame_step, fft_length=fft_length,
                                        num_mel_bins=num_mel_bins, spec_augment=spec_augment)
        x = keras.layers.Conv1D(d_model, 3, strides=2, padding="same", activation="relu",
                                name="stem")(x)
        x = PositionalEncoding(x.shape[1], name="positions")(x)
        for i in range(num_layers):
            x = TransformerEncoderBlock(num_heads, 2 * d_model, dropout=dropout, norm_first=True,
                                        name=f"encoder{i + 1}")(x)
        x = keras.layers.LayerNormalization(name="final_norm")(x)
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        return waveform, _head(x, num_classes, dropout)
