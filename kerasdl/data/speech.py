"""Spoken words synthesised offline by flite and espeak-ng, with noise and reverberation.

No labelled speech corpus is reachable here (DATA.md: no Speech Commands), so the speech is made
by the two Debian text-to-speech engines (``apt-get install flite espeak-ng``) across their voices,
speaking rates and pitches. A *voice* is one speaker: a flite voice (kal, kal16, awb, rms, slt) or
an espeak-ng accent + variant (``en-gb+f3``). Whole voices are held out: ``TEST_VOICES`` (flite
slt and twelve espeak voices whose accents *and* variants never occur in training) measure
generalisation to unseen speakers, ``VALIDATION_VOICES`` select models.

Augmentation (:func:`augment`) is synthetic, because no recorded noise exists here either:
white, pink (1/f) and brown (1/f²) noise made by spectral shaping of Gaussian noise, and *babble*
(a mix of other synthesised utterances of the same split), added at a random SNR; reverberation
convolves with a synthetic room impulse response — Gaussian noise under an exponential envelope
that decays 60 dB in RT60 seconds (0.15-0.7 s), after a unit direct path.

Clean clips are cached (int16 ``.npz`` under ``cache_dir()/speech``, keyed by a hash of every
generation parameter, written atomically); augmentation is cheap and re-drawn by seed.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kerasdl.data.sources import DataFileError, cache_dir
from kerasdl.io import atomic_path

SAMPLE_RATE = 16000
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
KEYWORDS = DIGITS + ("yes", "no", "stop", "go")
SILENCE, UNKNOWN = "_silence_", "_unknown_"
CLASSES = KEYWORDS + (SILENCE, UNKNOWN)  # keyword-spotting labels, in index order
UNKNOWN_WORDS = ("bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow")

# flite voices and their approximate mean F0 (Hz), the centre of the pitch range drawn per clip
FLITE_PITCH = {"kal": 100, "kal16": 100, "awb": 110, "rms": 100, "slt": 170}
TRAIN_ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-029")
TRAIN_VARIANTS = ("m1", "m2", "m3", "m5", "m6", "f1", "f2", "f3", "klatt", "klatt2")
TEST_ACCENTS = ("en-gb-scotland", "en-us-nyc", "en-gb-x-gbcwmd")
TEST_VARIANTS = ("m4", "m7", "f4", "f5")
TRAIN_VOICES = (("flite:kal", "flite:kal16", "flite:awb")
                + tuple(f"espeak:{a}+{v}" for a in TRAIN_ACCENTS for v in TRAIN_VARIANTS))
VALIDATION_VOICES = ("flite:rms", "espeak:en-us+klatt3", "espeak:en-gb+m8")
TEST_VOICES = ("flite:slt",) + tuple(f"espeak:{a}+{v}" for a in TEST_ACCENTS for v in TEST_VARIANTS)
SPLITS = {"train": TRAIN_VOICES, "validation": VALIDATION_VOICES, "test": TEST_VOICES}


class SpeechEngineError(RuntimeError):
    """flite / espeak-ng is missing or failed; the message says how to install it."""


def _engine(voice: str) -> tuple[str, str]:
    engine, _, name = voice.partition(":")
    if engine not in ("flite", "espeak") or not name:
        raise ValueError(f"voice must be 'flite:<name>' or 'espeak:<accent>+<variant>', got {voice!r}")
    if engine == "flite" and name not in FLITE_PITCH:
        raise ValueError(f"unknown flite voice {name!r}; flite has {', '.join(FLITE_PITCH)}")
    return engine, name


def _binary(engine: str) -> str:
    exe = {"flite": "flite", "espeak": "espeak-ng"}[engine]
    path = shutil.which(exe)
    if path is None:
        raise SpeechEngineError(f"{exe} is not installed; run `apt-get install -y flite espeak-ng`")
    return path


def _read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """(float32 samples in [-1, 1], rate) of a 16-bit mono PCM WAV; tolerates the unfinished
    size fields espeak-ng writes to a pipe."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeechEngineError("speech engine did not return a WAV file")
    rate = int.from_bytes(data[24:28], "little")
    pos = 12
    while pos + 8 <= len(data):  # walk the chunks to 'data'
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        if data[pos:pos + 4] == b"data":
            pcm = data[pos + 8:pos + 8 + min(size, len(data) - pos - 8)]
            pcm = pcm[:len(pcm) // 2 * 2]
            return np.frombuffer(pcm, "<i2").astype("float32") / 32768.0, rate
        pos += 8 + size
    raise SpeechEngineError("WAV file has no data chunk")


def synthesize(voice: str, text: str, rate: float = 1.0, pitch: float = 1.0) -> np.ndarray:
    """``text`` spoken by ``voice`` as float32 samples at 16 kHz. ``rate`` scales the speaking
    rate (espeak 160 words/min; flite's duration stretch is 1/rate); ``pitch`` scales the pitch
    (espeak's 0-99 pitch around 50; flite's mean F0 around the voice's own)."""
    from scipy.signal import resample_poly

    engine, name = _engine(voice)
    if not text.strip() or rate <= 0 or pitch <= 0:
        raise ValueError(f"need non-empty text and positive rate/pitch, got {text!r}, {rate}, {pitch}")
    with tempfile.TemporaryDirectory(prefix="kerasdl-tts-") as tmp:
        out = Path(tmp) / "out.wav"
        if engine == "flite":
            cmd = [_binary("flite"), "-voice", name, "--setf", f"duration_stretch={1 / rate:.4f}",
                   "--setf", f"int_f0_target_mean={FLITE_PITCH[name] * pitch:.1f}", "-t", text,
                   "-o", str(out)]
        else:
            cmd = [_binary("espeak"), "-v", name, "-s", str(int(round(160 * rate))),
                   "-p", str(int(np.clip(round(50 * pitch), 0, 99))), "-w", str(out), text]
        result = subprocess.run(cmd, capture_output=True)
        if result.returncode != 0 or not out.exists():
            raise SpeechEngineError(f"{' '.join(cmd)} failed: {result.stderr.decode()[-300:]}")
        samples, sr = _read_wav(out.read_bytes())
    if sr != SAMPLE_RATE:
        g = np.gcd(sr, SAMPLE_RATE)
        samples = resample_poly(samples, SAMPLE_RATE // g, sr // g).astype("float32")
    return samples


def trim(samples: np.ndarray, threshold_db: float = -40.0, frame: int = 160) -> np.ndarray:
    """``samples`` without the leading/trailing frames quieter than ``threshold_db`` below the
    loudest frame (RMS over ``frame`` samples)."""
    n = len(samples) // frame
    if n == 0:
        return samples
    rms = np.sqrt(np.mean(samples[:n * frame].reshape(n, frame) ** 2, 1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    return samples[loud[0] * frame:(loud[-1] + 1) * frame]


def fit_clip(samples: np.ndarray, length: int, rng) -> np.ndarray:
    """Trimmed speech placed at a random offset in a zero clip of ``length`` samples (centre-cut if
    longer), peak-normalised to a random level in [0.3, 0.95]."""
    speech = trim(samples)
    if len(speech) > length:
        start = (len(speech) - length) // 2
        speech = speech[start:start + length]
    clip = np.zeros(length, "float32")
    offset = int(rng.integers(0, length - len(speech) + 1))
    clip[offset:offset + len(speech)] = speech
    return clip * (rng.uniform(0.3, 0.95) / max(np.abs(clip).max(), 1e-6))


# ------------------------------------------------------------------------------- the data set
@dataclass(frozen=True)
class SpeechConfig:
    """Every parameter of a synthesised keyword-spotting split (the cache key)."""

    split: str = "train"
    repeats: int = 3           # clips per keyword and voice (random rate and pitch each)
    voices: tuple = ()         # () = the split's voices (SPLITS)
    words: tuple = KEYWORDS    # the keyword classes spoken (a subset of KEYWORDS)
    duration: float = 1.0      # seconds per clip
    rate_range: tuple = (0.75, 1.3)
    pitch_range: tuple = (0.8, 1.25)
    seed: int = 0

    def resolved_voices(self) -> tuple:
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose from {', '.join(SPLITS)}")
        voices = tuple(self.voices) or SPLITS[self.split]
        for voice in voices:
            _engine(voice)
        return voices

    def key(self) -> str:
        text = json.dumps({**asdict(self), "voices": self.resolved_voices(), "v": 1}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plan(config: SpeechConfig) -> list[tuple]:
    """(voice, text, label, rate, pitch) per clip: each word ``repeats`` times per voice, twice as
    many unknown-word clips, and ``repeats`` silence clips (text None)."""
    unknown_words = [w for w in config.words if w not in KEYWORDS]
    if unknown_words or not config.words or config.repeats < 1:
        raise ValueError(f"words must be a non-empty subset of {KEYWORDS} and repeats >= 1, got "
                         f"{config.words}, {config.repeats}")
    rng = np.random.default_rng(config.seed)
    plan = []
    for voice in config.resolved_voices():
        texts = [(w, CLASSES.index(w)) for w in config.words for _ in range(config.repeats)]
        texts += [(str(rng.choice(UNKNOWN_WORDS)), CLASSES.index(UNKNOWN))
                  for _ in range(2 * config.repeats)]
        for text, label in texts:
            plan.append((voice, text, label, float(rng.uniform(*config.rate_range)),
                         float(rng.uniform(*config.pitch_range))))
        plan += [(voice, None, CLASSES.index(SILENCE), 1.0, 1.0)] * config.repeats
    return plan


def _synthesize_all(plan, length: int, seed: int, workers: int = 4) -> np.ndarray:
    speech = [p for p in plan if p[1] is not None]
    with ThreadPoolExecutor(workers) as pool:  # the engines run as subprocesses
        waves = iter(pool.map(lambda p: synthesize(p[0], p[1], p[3], p[4]), speech))
    rng = np.random.default_rng(seed + 1)
    clips = np.zeros((len(plan), length), "float32")
    for i, (_, text, *_rest) in enumerate(plan):
        if text is not None:
            clips[i] = fit_clip(next(waves), length, rng)
    return clips


def load_keyword_split(config: SpeechConfig = SpeechConfig(), *, cache: bool = True) -> dict:
    """The clean clips of one split: ``{"audio": float32 [N, duration*16k], "label": int32 [N]
    (index into CLASSES), "voice": str [N], "text": str [N] ("" for silence)}``. Silence clips
    are all zeros: :func:`augment` fills them with noise."""
    path = cache_dir() / "speech" / f"kws_{config.split}_{config.key()}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as f:
                return {"audio": f["audio"].astype("float32") / 32767.0, "label": f["label"],
                        "voice": f["voice"], "text": f["text"]}
        except (OSError, ValueError, KeyError) as err:
            raise DataFileError(f"{path} is unreadable ({err}); delete it to re-synthesise") from err
    plan = _plan(config)
    length = int(round(config.duration * SAMPLE_RATE))
    data = {"audio": _synthesize_all(plan, length, config.seed),
            "label": np.array([p[2] for p in plan], "int32"),
            "voice": np.array([p[0] for p in plan]),
            "text": np.array([p[1] or "" for p in plan])}
    if cache:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, audio=np.round(data["audio"] * 32767).astype("int16"),
                         **{k: v for k, v in data.items() if k != "audio"})
    return data


# ------------------------------------------------------------------------------- augmentation
NOISE_KINDS = ("white", "pink", "brown", "babble")


def colored_noise(rng, shape, exponent: float) -> np.ndarray:
    """Unit-RMS Gaussian noise whose power spectrum falls as 1/f**exponent (0 white, 1 pink,
    2 brown), by shaping the spectrum of white noise."""
    spectrum = np.fft.rfft(rng.normal(size=shape), axis=-1)
    f = np.maximum(np.fft.rfftfreq(shape[-1]), 1.0 / shape[-1])
    noise = np.fft.irfft(spectrum / f ** (exponent / 2), n=shape[-1], axis=-1)
    return noise / np.sqrt(np.mean(noise ** 2, -1, keepdims=True) + 1e-12)


def room_impulse_response(rng, rt60: float, length: int | None = None) -> np.ndarray:
    """A synthetic impulse response: a unit direct path, then Gaussian noise under
    ``exp(-6.91 t / rt60)`` (60 dB of decay in ``rt60`` seconds), 0.1 of the direct energy."""
    length = length or int(rt60 * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    tail = rng.normal(size=length) * np.exp(-6.91 * t / rt60)
    tail[0] = 0.0
    ir = np.sqrt(0.1) * tail / np.sqrt(np.sum(tail ** 2) + 1e-12)
    ir[0] = 1.0
    return ir


def reverberate(audio: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """``audio`` [..., T] convolved with ``ir`` and cut to T samples (FFT convolution)."""
    n = audio.shape[-1] + len(ir) - 1
    size = 1 << (n - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(audio, size, axis=-1) * np.fft.rfft(ir, size), size, axis=-1)
    return wet[..., :audio.shape[-1]]


def augment(audio: np.ndarray, labels: np.ndarray, seed: int, *, noise_prob: float = 0.8,
            snr_db=(5.0, 30.0), reverb_prob: float = 0.5, rt60=(0.15, 0.7)) -> np.ndarray:
    """A noisy, reverberant copy of clips [N, T]: reverberation with probability ``reverb_prob``,
    then noise of a random kind (NOISE_KINDS) at an SNR drawn from ``snr_db`` with probability
    ``noise_prob``. Silence clips (label of SILENCE) always get noise, at a random level."""
    audio = np.asarray(audio, "float32")
    if audio.ndim != 2 or len(audio) != len(labels) or len(audio) == 0:
        raise ValueError(f"need clips [N, T] and N labels, got {audio.shape} and {len(labels)}")
    rng = np.random.default_rng(seed)
    out = audio.copy()
    silence = np.asarray(labels) == CLASSES.index(SILENCE)
    speech = np.flatnonzero(~silence)
    for i in range(len(out)):
        if not silence[i] and rng.random() < reverb_prob:
            out[i] = reverberate(out[i], room_impulse_response(rng, rng.uniform(*rt60)))
        if not (silence[i] or rng.random() < noise_prob):
            continue
        kind = NOISE_KINDS[rng.integers(len(NOISE_KINDS))]
        if kind == "babble" and len(speech) > 0:
            picks = rng.choice(speech, size=4)
            noise = sum(np.roll(audio[j], rng.integers(audio.shape[1])) for j in picks)
            noise = noise / np.sqrt(np.mean(noise ** 2) + 1e-12)
        else:
            noise = colored_noise(rng, audio.shape[1:], {"white": 0, "pink": 1, "brown": 2,
                                                        "babble": 1}[kind])
        if silence[i]:
            out[i] = noise * 10 ** rng.uniform(-3, -0.7)
        else:
            signal_rms = np.sqrt(np.mean(out[i] ** 2) + 1e-12)
            out[i] = out[i] + noise * signal_rms / 10 ** (rng.uniform(*snr_db) / 20)
    peak = np.maximum(np.abs(out).max(-1, keepdims=True), 1.0)  # keep within [-1, 1]
    return (out / peak).astype("float32")


# ------------------------------------------------------------------------------- digit strings
def digit_strings(split: dict, per_voice: int, samples: int, *, max_digits: int = 4,
                  seed: int = 0) -> dict:
    """Spoken digit strings for CTC: per voice of ``split`` (a :func:`load_keyword_split` result),
    ``per_voice`` strings of 1-``max_digits`` trimmed digit clips *of that voice*, joined by
    0.03-0.25 s pauses and placed at a random offset in ``samples`` samples (digits that do not
    fit are dropped). Returns ``{"audio" [N, samples], "labels" int32 [N, max_digits] (digit + 1,
    0-padded: keras.losses.CTC's blank is 0), "digits": list of str, "voice" [N]}``."""
    rng = np.random.default_rng(seed)
    audio, labels, texts, voices = [], [], [], []
    digit_of = {word: d for d, word in enumerate(DIGITS)}
    for voice in dict.fromkeys(split["voice"]):
        pool = [i for i in np.flatnonzero(split["voice"] == voice) if split["text"][i] in digit_of]
        if not pool:
            raise ValueError(f"voice {voice!r} has no digit clips to join")
        for _ in range(per_voice):
            clip, digits, pos = np.zeros(samples, "float32"), [], 0
            pieces = []
            for i in rng.choice(pool, size=int(rng.integers(1, max_digits + 1))):
                speech = trim(split["audio"][i])
                gap = int(rng.uniform(0.03, 0.25) * SAMPLE_RATE) if pieces else 0
                if pos + gap + len(speech) > samples:
                    break
                pieces.append((pos + gap, speech))
                pos += gap + len(speech)
                digits.append(digit_of[split["text"][i]])
            if not digits:  # one digit longer than the window: centre-cut it
                speech = fit_clip(split["audio"][i], samples, rng)
                pieces, pos, digits = [(0, speech)], samples, [digit_of[split["text"][i]]]
            offset = int(rng.integers(0, samples - pos + 1))
            for start, speech in pieces:
                clip[offset + start:offset + start + len(speech)] = speech
            audio.append(clip * (rng.uniform(0.3, 0.95) / max(np.abs(clip).max(), 1e-6)))
            labels.append(np.pad(np.array(digits) + 1, (0, max_digits - len(digits))))
            texts.append("".join(map(str, digits)))
            voices.append(voice)
    return {"audio": np.stack(audio).astype("float32"), "labels": np.stack(labels).astype("int32"),
            "digits": texts, "voice": np.array(voices)}
