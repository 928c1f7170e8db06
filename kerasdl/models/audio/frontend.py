"""The shared front of every audio model: waveform input -> log-mel -> per-bin normalisation ->
SpecAugment (training only)."""
from __future__ import annotations

import keras

from kerasdl.layers.audio import LogMelSpectrogram, SpecAugment

def waveform_features(samples: int, *, sample_rate, frame_length, frame_step, fft_length,
                      num_mel_bins, spec_augment=True):
    """(``keras.Input([samples])``, normalised log-mel ``[B, frames, num_mel_bins]``).

    BatchNormalization over the mel axis standardises each bin (what a fixed mean/variance
    would do, learned from the training data), so SpecAugment's zero masks equal the mean."""
    if int(samples) < frame_length:
        raise ValueError(f"samples={samples} is shorter than one frame (frame_length={frame_length})")
    waveform = keras.Input((int(samples),), name="waveform")
    x = LogMelSpectrogram(sample_rate, frame_length, frame_step, fft_length, num_mel_bins,
                          name="log_mel")(waveform)
    x = keras.layers.BatchNormalization(momentum=0.9, name="feature_norm")(x)
    if spec_augment:
        x = SpecAugment(freq_mask_param=max(1, num_mel_bins // 5),
                        time_mask_param=max(1, x.shape[1] // 8), name="spec_augment")(x)
    return waveform, x
