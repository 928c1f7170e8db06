"""Audio front end inside the model: raw waveform -> log-mel spectrogram, and SpecAugment.

``LogMelSpectrogram`` is tf.signal's recipe — ``stft`` (periodic Hann window) -> ``|.|²`` -> the
HTK mel filterbank of ``linear_to_mel_weight_matrix`` -> ``log(mel + floor)`` — so a TFLite model
takes raw audio: it converts to built-in ops only (framing to GATHER/RESHAPE, the FFT to RFFT2D,
COMPLEX_ABS, FULLY_CONNECTED for the filterbank, LOG). Full-int8 conversion keeps it in float
(``keep_float_in_int8``), between a DEQUANTIZE of the int8 waveform and a QUANTIZE of the
features: quantised, the power spectrum's one int8 scale (set by the loudest frames) rounds every
quiet frame to zero, and the keyword model's int8 top-1 agreement fell to 60.5%.

``keras.layers.MelSpectrogram`` (Keras 3.15) also converts, but is not used: its dB scale clips at
``max(spectrogram) - top_db`` with the max taken over the whole *batch*, so one example's
features depend on the others in its batch; and it returns ``[B, mels, frames]``.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="kerasdl")
class LogMelSpectrogram(keras.layers.Layer):
    """``[B, samples]`` float waveform -> ``[B, frames, num_mel_bins]`` log-mel energies, with
    ``frames = 1 + (samples - frame_length) // frame_step`` (no padding). Computes in float32
    under any dtype policy (TFLite and XLA have no reduced-precision FFT) and casts the result."""

    keep_float_in_int8 = True  # read by kerasdl.export.tflite.float_layer_names

    def __init__(self, sample_rate=16000, frame_length=400, frame_step=160, fft_length=512,
                 num_mel_bins=40, lower_edge_hertz=20.0, upper_edge_hertz=None, floor=1e-6,
                 **kwargs):
        super().__init__(**kwargs)
        self.sample_rate, self.frame_length = int(sample_rate), int(frame_length)
        self.frame_step, self.fft_length = int(frame_step), int(fft_length)
        self.num_mel_bins, self.floor = int(num_mel_bins), float(floor)
        self.lower_edge_hertz = float(lower_edge_hertz)
        self.upper_edge_hertz = float(upper_edge_hertz or sample_rate / 2)
        if self.fft_length < self.frame_length:
            raise ValueError(f"fft_length {fft_length} is shorter than frame_length {frame_length}")
        if not 0 <= self.lower_edge_hertz < self.upper_edge_hertz <= self.sample_rate / 2:
            raise ValueError(f"need 0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate/2, got "
                             f"{lower_edge_hertz}, {upper_edge_hertz}, {sample_rate}")
        self.autocast = False

    def num_frames(self, samples: int) -> int:
        return 1 + (int(samples) - self.frame_length) // self.frame_step

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: expects waveforms [batch, samples] with a static length, "
                             f"got {input_shape}")
        if input_shape[-1] < self.frame_length:
            raise ValueError(f"{self.name}: {input_shape[-1]} samples are fewer than one frame "
                             f"({self.frame_length})")
        import tensorflow as tf

        self._mel = np.asarray(tf.signal.linear_to_mel_weight_matrix(
            self.num_mel_bins, self.fft_length // 2 + 1, self.sample_rate, self.lower_edge_hertz,
            self.upper_edge_hertz))

    def call(self, waveform):
        import tensorflow as tf

        x = ops.cast(waveform, "float32")
        stft = tf.signal.stft(x, self.frame_length, self.frame_step, self.fft_length,
                              window_fn=tf.signal.hann_window)
        power = ops.square(ops.abs(stft))
        mel = ops.matmul(power, ops.convert_to_tensor(self._mel))
        return ops.cast(ops.log(mel + self.floor), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_frames(input_shape[-1]), self.num_mel_bins)

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate,
                "frame_length": self.frame_length, "frame_step": self.frame_step,
                "fft_length": self.fft_length, "num_mel_bins": self.num_mel_bins,
                "lower_edge_hertz": self.lower_edge_hertz, "upper_edge_hertz": self.upper_edge_hertz,
                "floor": self.floor}


def _band_masks(rng_seed, batch, size, max_width, count, dtype):
    """``[batch, size]`` 1/0 keep-masks, each with ``count`` zeroed bands of width in
    [0, max_width] at uniform starts (Park et al. 2019, SpecAugment)."""
    keep = ops.ones((batch, size), dtype)
    positions = ops.expand_dims(ops.arange(size), 0)
    for _ in range(count):
        width = keras.random.randint((batch, 1), 0, max_width + 1, seed=rng_seed)
        start = keras.random.randint((batch, 1), 0, size, seed=rng_seed)
        start = ops.minimum(start, ops.maximum(size - width, 0))
        band = ops.logical_and(positions >= start, positions < start + width)
        keep = keep * ops.cast(ops.logical_not(band), dtype)
    return keep


@keras.saving.register_keras_serializable(package="kerasdl")
class SpecAugment(keras.layers.Layer):
    """Time and frequency masking of ``[B, frames, bins(, C)]`` features, in training only
    (the identity at inference, so it vanishes from exported models). Masked values become 0:
    put it after a normalisation, where 0 is the mean."""

    def __init__(self, freq_mask_param=8, time_mask_param=10, num_freq_masks=2, num_time_masks=2,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.freq_mask_param, self.time_mask_param = int(freq_mask_param), int(time_mask_param)
        self.num_freq_masks, self.num_time_masks = int(num_freq_masks), int(num_time_masks)
        if min(self.freq_mask_param, self.time_mask_param, self.num_freq_masks,
               self.num_time_masks) < 0:
            raise ValueError("SpecAugment mask widths and counts must be >= 0")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        if len(x.shape) not in (3, 4) or x.shape[1] is None or x.shape[2] is None:
            raise ValueError(f"{self.name}: expects [B, frames, bins(, C)] with static frames and "
                             f"bins, got {x.shape}")
        batch, frames, bins = ops.shape(x)[0], x.shape[1], x.shape[2]
        time = _band_masks(self.seed_generator, batch, frames, self.time_mask_param,
                           self.num_time_masks, x.dtype)
        freq = _band_masks(self.seed_generator, batch, bins, self.freq_mask_param,
                           self.num_freq_masks, x.dtype)
        keep = ops.expand_dims(time, 2) * ops.expand_dims(freq, 1)
        return x * (ops.expand_dims(keep, -1) if len(x.shape) == 4 else keep)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "freq_mask_param": self.freq_mask_param,
                "time_mask_param": self.time_mask_param, "num_freq_masks": self.num_freq_masks,
                "num_time_masks": self.num_time_masks, "seed": self.seed}
