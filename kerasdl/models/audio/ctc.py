"""CTC recognition of spoken digit strings: waveform -> log-mel -> conv -> bidirectional GRU ->
per-frame logits over ``blank + vocabulary`` (index 0 is the blank, as ``keras.losses.CTC`` and
``keras.ops.ctc_decode`` expect; digit ``d`` is class ``d + 1``)."""
from __future__ import annotations

import keras

from kerasdl.models.audio.frontend import waveform_features
from kerasdl.models.audio.kws import conv_recurrent_encoder
from kerasdl.models.base import FunctionalModel, register_model


@register_model("digits_ctc", task="ctc", deployable=True,
                small={"samples": 3200, "sample_rate": 8000, "frame_length": 200,
                       "frame_step": 160, "fft_length": 256, "num_mel_bins": 16, "width": 4,
                       "units": 8})
class DigitsCTC(FunctionalModel):
    @staticmethod
    def build_graph(vocabulary_size=10, samples=40000, width=16, units=64, dropout=0.1,
                    spec_augment=True, sample_rate=16000, frame_length=400, frame_step=160,
                    fft_length=512, num_mel_bins=40):
        waveform, x = waveform_features(samples, sample_rate=sample_rate, frame_length=frame_length,
                                        frame_step=frame_step, fft_length=fft_length,
                                        num_mel_bins=num_mel_bins, spec_augment=spec_augment)
        x = conv_recurrent_encoder(x, width, units, time_stride=2)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        return waveform, keras.layers.Dense(vocabulary_size + 1, name="ctc_logits")(x)
