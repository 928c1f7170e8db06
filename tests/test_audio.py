"""Audio: synthesised speech data, augmentation, the log-mel front end and SpecAugment."""
import shutil

import numpy as np
import pytest

from kerasdl.data import speech

needs_tts = pytest.mark.skipif(not (shutil.which("flite") and shutil.which("espeak-ng")),
                               reason="flite / espeak-ng not installed (apt-get install flite espeak-ng)")


def test_voice_splits_are_disjoint_and_test_accents_and_variants_are_unseen():
    train, val, test = (set(speech.SPLITS[s]) for s in ("train", "validation", "test"))
    assert not (train & val or train & test or val & test)
    seen = {v.split(":")[1] for v in train}
    for voice in test:
        name = voice.split(":")[1]
        assert name not in seen
        if voice.startswith("espeak:"):
            accent, variant = name.split("+")
            assert accent not in speech.TRAIN_ACCENTS and variant not in speech.TRAIN_VARIANTS


def test_bad_voice_and_split_names_fail_clearly():
    with pytest.raises(ValueError, match="flite voice"):
        speech.synthesize("flite:bob", "one")
    with pytest.raises(ValueError, match="voice must be"):
        speech.synthesize("festival:kal", "one")
    with pytest.raises(ValueError, match="unknown split"):
        speech.SpeechConfig(split="dev").key()
    with pytest.raises(ValueError, match="subset"):
        speech.load_keyword_split(speech.SpeechConfig(words=("eleven",)), cache=False)


@needs_tts
def test_synthesis_is_16khz_speech_from_both_engines():
    for voice in ("flite:kal", "espeak:en-us+f3"):  # kal is 8 kHz, espeak 22.05 kHz: resampled
        wave = speech.synthesize(voice, "seven")
        slow = speech.synthesize(voice, "seven", rate=0.7)
        assert wave.dtype == np.float32 and 0.3 * 16000 < len(wave) < 1.5 * 16000
        assert len(speech.trim(slow)) > 1.2 * len(speech.trim(wave))  # the rate is applied
        spectrum = np.abs(np.fft.rfft(wave)) ** 2
        freqs = np.fft.rfftfreq(len(wave), 1 / 16000)
        assert spectrum[(freqs > 100) & (freqs < 4000)].sum() > 0.8 * spectrum.sum()  # speech band


@needs_tts
def test_keyword_split_is_labelled_cached_and_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASDL_DATA", str(tmp_path))
    config = speech.SpeechConfig(split="test", voices=("flite:slt", "espeak:en-us-nyc+f4"),
                                 words=("yes", "no"), repeats=1)
    first = speech.load_keyword_split(config)
    assert list(tmp_path.glob("speech/kws_test_*.npz"))
    again = speech.load_keyword_split(config)
    np.testing.assert_allclose(again["audio"], first["audio"], atol=1 / 32767)
    fresh = speech.load_keyword_split(config, cache=False)
    np.testing.assert_allclose(fresh["audio"], first["audio"], atol=1 / 32767)
    names = [speech.CLASSES[i] for i in first["label"]]
    # per voice: yes, no, two unknown words, one silence
    assert sorted(names) == sorted(["yes", "no", speech.UNKNOWN, speech.UNKNOWN, speech.SILENCE] * 2)
    silent = first["label"] == speech.CLASSES.index(speech.SILENCE)
    assert np.all(first["audio"][silent] == 0) and np.all(np.abs(first["audio"][~silent]).max(1) > 0.25)
    assert set(first["voice"]) == set(config.voices)


def test_colored_noise_spectral_slope_matches_its_exponent():
    rng = np.random.default_rng(0)
    freqs = np.fft.rfftfreq(16000, 1 / 16000)
    band = (freqs > 50) & (freqs < 5000)
    for exponent in (0, 1, 2):
        noise = speech.colored_noise(rng, (64, 16000), exponent)
        np.testing.assert_allclose(np.sqrt(np.mean(noise ** 2, -1)), 1.0, rtol=1e-6)
        power = np.mean(np.abs(np.fft.rfft(noise)) ** 2, 0)
        slope = np.polyfit(np.log(freqs[band]), np.log(power[band]), 1)[0]
        assert abs(slope + exponent) < 0.1, (exponent, slope)


def test_impulse_response_decays_60_db_in_rt60_and_reverb_is_convolution():
    rng = np.random.default_rng(1)
    ir = speech.room_impulse_response(rng, rt60=0.4, length=16000)
    energy = ir[1:] ** 2  # Schroeder backward integration of the tail
    edc = 10 * np.log10(np.cumsum(energy[::-1])[::-1] / energy.sum())
    t60 = np.argmax(edc < -60) / 16000
    assert abs(t60 - 0.4) < 0.04, t60
    x = rng.normal(size=(2, 3000))
    np.testing.assert_allclose(speech.reverberate(x, ir[:500]),
                               [np.convolve(row, ir[:500])[:3000] for row in x], atol=1e-9)


def test_augment_hits_the_requested_snr_and_fills_silence():
    rng = np.random.default_rng(2)
    t = np.arange(16000) / 16000
    clean = (0.5 * np.sin(2 * np.pi * 300 * t) * np.ones((20, 1))).astype("float32")
    labels = np.full(20, speech.CLASSES.index("one"))
    labels[-2:] = speech.CLASSES.index(speech.SILENCE)
    clean[-2:] = 0
    noisy = speech.augment(clean, labels, seed=3, noise_prob=1.0, snr_db=(10, 10), reverb_prob=0.0)
    noise = noisy[:-2] - clean[:-2]
    snr = 10 * np.log10(np.mean(clean[:-2] ** 2, 1) / np.mean(noise ** 2, 1))
    np.testing.assert_allclose(snr, 10.0, atol=0.2)
    assert np.all(np.std(noisy[-2:], 1) > 0)
    np.testing.assert_array_equal(noisy, speech.augment(clean, labels, seed=3, noise_prob=1.0,
                                                        snr_db=(10, 10), reverb_prob=0.0))
    with pytest.raises(ValueError, match="clips"):
        speech.augment(clean[0], labels, seed=0)


# --------------------------------------------------------------------------- front end
def _numpy_log_mel(x, sr, frame_length, step, fft_length, bins, lo, hi, floor):
    """Independent reference: numpy framing, periodic Hann, rfft, HTK mel triangles."""
    frames = 1 + (x.shape[-1] - frame_length) // step
    idx = np.arange(frame_length)[None] + step * np.arange(frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame_length) / frame_length)
    power = np.abs(np.fft.rfft(x[:, idx] * window, fft_length)) ** 2
    mel = lambda f: 1127.0 * np.log1p(f / 700.0)  # noqa: E731
    edges = np.linspace(mel(lo), mel(hi), bins + 2)
    f = mel(np.linspace(0, sr / 2, fft_length // 2 + 1))[1:]
    lower = (f[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])
    upper = (edges[None, 2:] - f[:, None]) / (edges[2:] - edges[1:-1])
    weights = np.vstack([np.zeros((1, bins)), np.maximum(0, np.minimum(lower, upper))])  # DC: 0
    return np.log(power @ weights + floor)


def test_log_mel_matches_an_independent_numpy_computation():
    from kerasdl.layers.audio import LogMelSpectrogram

    x = np.random.default_rng(4).normal(0, 0.1, (3, 4000)).astype("float32")
    layer = LogMelSpectrogram(8000, 200, 80, 256, 20, 30.0, 3800.0, floor=1e-6)
    got = np.asarray(layer(x))
    assert got.shape == (3, layer.num_frames(4000), 20) == (3, 48, 20)
    np.testing.assert_allclose(got, _numpy_log_mel(x, 8000, 200, 80, 256, 20, 30.0, 3800.0, 1e-6),
                               atol=2e-3)


def test_log_mel_converts_to_builtin_tflite_ops_with_parity():
    import keras

    from kerasdl.export import check_builtin_ops, convert, parity
    from kerasdl.layers.audio import LogMelSpectrogram

    waveform = keras.Input((2000,))
    model = keras.Model(waveform, LogMelSpectrogram(8000, 200, 100, 256, 16)(waveform))
    flatbuffer = convert(model, "fp32")
    ops = check_builtin_ops(flatbuffer)
    assert "RFFT2D" in ops
    x = np.random.default_rng(5).normal(0, 0.1, (4, 2000)).astype("float32")
    assert parity(model, flatbuffer, x)["max_abs_error"] < 1e-3


def test_int8_conversion_keeps_the_log_mel_front_end_in_float(monkeypatch):
    """An 8-bit power spectrum rounds quiet frames to zero: full-int8 conversion must leave the
    log-mel ops in float (LiteRT selective quantisation). Without that (the layer's flag off)
    its tensors turn int8 and the features of quiet speech go wrong."""
    import keras

    from kerasdl.export import convert
    from kerasdl.export.tflite import TFLiteRunner, float_layer_names
    from kerasdl.layers.audio import LogMelSpectrogram

    waveform = keras.Input((2000,))
    features = LogMelSpectrogram(8000, 200, 100, 256, 16, name="log_mel")(waveform)
    model = keras.Model(waveform, keras.layers.Dense(8, name="head")(features))
    assert float_layer_names(model) == ("log_mel",)
    rng = np.random.default_rng(6)
    loudness = rng.uniform(0.002, 0.5, (64, 1)).astype("float32")  # quiet to loud clips
    x = (rng.normal(0, 1, (64, 2000)) * loudness).astype("float32")
    expected = np.asarray(model(x))

    def int8_run():
        runner = TFLiteRunner(convert(model, "int8", representative_data=x))
        tensors = runner.interpreter.get_tensor_details()
        front = {np.dtype(t["dtype"]) for t in tensors if "log_mel" in t["name"]}
        return front, np.abs(runner.predict(x) - expected).mean()

    front, error = int8_run()
    assert np.dtype("float32") in front and np.dtype("int8") not in front, front
    monkeypatch.setattr(LogMelSpectrogram, "keep_float_in_int8", False)
    quantised_front, quantised_error = int8_run()
    assert np.dtype("int8") in quantised_front
    assert error < 0.5 * quantised_error, (error, quantised_error)


def test_log_mel_rejects_bad_configurations():
    from kerasdl.layers.audio import LogMelSpectrogram

    with pytest.raises(ValueError, match="fft_length"):
        LogMelSpectrogram(frame_length=512, fft_length=256)
    with pytest.raises(ValueError, match="upper_edge_hertz"):
        LogMelSpectrogram(sample_rate=8000, upper_edge_hertz=6000)
    with pytest.raises(ValueError, match="fewer than one frame"):
        LogMelSpectrogram(frame_length=400)(np.zeros((1, 100), "float32"))


def test_spec_augment_masks_bands_in_training_only():
    from kerasdl.layers.audio import SpecAugment

    x = np.ones((8, 30, 20), "float32")
    layer = SpecAugment(freq_mask_param=5, time_mask_param=6, num_freq_masks=1, num_time_masks=1,
                        seed=0)
    np.testing.assert_array_equal(layer(x, training=False), x)
    masked = np.asarray(layer(x, training=True))
    assert set(np.unique(masked)) <= {0.0, 1.0}
    for example in masked:
        dead_frames = np.flatnonzero(np.all(example == 0, 1))
        dead_bins = np.flatnonzero(np.all(example == 0, 0))
        # one contiguous band each, no wider than its parameter; everything else kept
        assert len(dead_frames) <= 6 and len(dead_bins) <= 5
        for dead in (dead_frames, dead_bins):
            assert len(dead) == 0 or np.all(np.diff(dead) == 1)
        keep = np.ones_like(example)
        keep[dead_frames] = 0
        keep[:, dead_bins] = 0
        np.testing.assert_array_equal(example, keep)
    assert (masked == 0).any()


# --------------------------------------------------------------------------- CTC data and scores
def _fake_split():
    """Two voices, each with tone-burst 'digits' (burst i has i + 1 cycles' worth of length)."""
    audio, text, voice = [], [], []
    for v in ("a", "b"):
        for d in range(10):
            clip = np.zeros(16000, "float32")
            clip[1000:1000 + 800 * (d % 3 + 1)] = 0.5
            audio.append(clip), text.append(speech.DIGITS[d]), voice.append(v)
    audio.append(np.zeros(16000, "float32")), text.append(""), voice.append("a")  # silence
    return {"audio": np.stack(audio), "text": np.array(text), "voice": np.array(voice)}


def test_digit_strings_join_same_voice_digits_with_matching_labels():
    strings = speech.digit_strings(_fake_split(), per_voice=30, samples=8000, max_digits=4, seed=0)
    assert strings["audio"].shape == (60, 8000) and strings["labels"].shape == (60, 4)
    lengths = (strings["labels"] > 0).sum(1)
    assert lengths.min() >= 1 and lengths.max() <= 4 and len(set(lengths)) > 1
    for labels, digits, audio in zip(strings["labels"], strings["digits"], strings["audio"]):
        assert "".join(str(c - 1) for c in labels if c) == digits
        assert np.all(labels[len(digits):] == 0)
        # speech energy equals the joined bursts' total length (each burst: 800 * (d % 3 + 1))
        assert (np.abs(audio) > 0).sum() == sum(800 * (int(d) % 3 + 1) for d in digits)
    assert list(strings["voice"]).count("a") == 30


def test_edit_distance_and_wer_match_tensorflow():
    import tensorflow as tf

    from kerasdl.metrics.speech import edit_distance, per_group, word_error_rate

    rng = np.random.default_rng(6)
    refs = [list(rng.integers(0, 4, rng.integers(1, 7))) for _ in range(30)]
    hyps = [list(rng.integers(0, 4, rng.integers(0, 7))) for _ in range(30)]

    def sparse(seqs):
        idx = [[i, j] for i, s in enumerate(seqs) for j in range(len(s))]
        return tf.SparseTensor(np.array(idx, "int64").reshape(-1, 2),
                               np.array([t for s in seqs for t in s], "int64"),
                               [len(seqs), max(map(len, seqs)) or 1])

    expected = tf.edit_distance(sparse(hyps), sparse(refs), normalize=False).numpy()
    np.testing.assert_array_equal([edit_distance(r, h) for r, h in zip(refs, hyps)], expected)
    assert word_error_rate(refs, hyps) == pytest.approx(expected.sum() / sum(map(len, refs)))
    assert edit_distance("kitten", "sitting") == 3
    assert per_group(["x", "y", "x"], [1, 0, 0]) == {"x": 0.5, "y": 0.0}
    with pytest.raises(ValueError, match="as many"):
        word_error_rate(["1"], [])
