#!/usr/bin/env python
"""Spoken digit strings with CTC: a conv + bidirectional-GRU recogniser on raw 16 kHz audio,
scored by digit error rate (WER with digits as words) per held-out voice.

Command:  python pipelines/spoken_digits_ctc.py [--epochs N]
          python pipelines/spoken_digits_ctc.py --fast          (CI smoke run: a few steps)
Data:     synthetic by necessity (no labelled speech here): the digit clips of the keyword-spotting
          splits (kerasdl.data.speech; flite + espeak-ng, random rate and pitch), trimmed and
          joined per voice into strings of 1-4 digits with 0.03-0.25 s pauses, 2.5 s windows.
          Train: 53 voices x 40 strings, clean + 1 augmented copy (synthetic noise / reverb as in
          kerasdl.data.speech). Test: the 13 held-out voices (unseen accents and variants) x 20
          strings, clean and augmented.
Recipe:   digits_ctc (log-mel 30 ms / 20 ms hop / 40 bins -> conv x2 -> BiGRU-64 -> 11-way
          per-frame logits, blank = 0), keras.losses.CTC, AdamW 2e-3 cosine, batch 32, fp32;
          greedy decoding with keras.ops.ctc_decode.
Output:   saved_models/spoken_digits_ctc/ (results.json: digit error rate and string accuracy per
          held-out voice; model.keras; fp32 TFLite, checked built-in-only with logit parity).
Hardware: 2-core AMD EPYC, no GPU, shared with six other training jobs.
Last run: 2026-12-02 09:19, `nice -n 10` (load ~2-4), 12 epochs, 4.3 min training / 5.1 min wall:
          held-out voices digit error rate 5.8% clean / 7.5% noisy, string accuracy 88.9% / 86.2%
          (flite slt 45% DER, the rest 0-19%); fp32 TFLite built-ins only, logit error 1.5e-5.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasdl.io import atomic_path, atomic_write_bytes, atomic_write_json  # noqa: E402

SECONDS = 2.5
FRONTEND = {"sample_rate": 16000, "frame_length": 480, "frame_step": 320, "fft_length": 512,
            "num_mel_bins": 40}


def load_strings(fast: bool):
    from kerasdl.data import speech

    repeats = 1 if fast else 3
    samples = int(SECONDS * speech.SAMPLE_RATE)
    voices = {"train": speech.TRAIN_VOICES[3:5] if fast else (),
              "test": speech.TEST_VOICES[:2] if fast else ()}
    out = {}
    for split, per_voice, copies, seed in (("train", 40, 1, 0), ("test", 20, 1, 1)):
        clips = speech.load_keyword_split(speech.SpeechConfig(split=split, repeats=repeats,
                                                              voices=voices[split]))
        strings = speech.digit_strings(clips, 4 if fast else per_voice, samples, seed=seed)
        speaking = np.full(len(strings["audio"]), speech.CLASSES.index("one"))  # none silent
        strings["noisy"] = speech.augment(strings["audio"], speaking, seed=300 + seed)
        out[split] = strings
    return out


def decode(logits) -> list:
    """Greedy CTC decoding -> digit strings (class c is digit c - 1; 0 is the blank)."""
    import keras

    lengths = np.full(len(logits), logits.shape[1], "int32")
    (paths,), _ = keras.ops.ctc_decode(logits, lengths, strategy="greedy", mask_index=0)
    return ["".join(str(int(c) - 1) for c in row if c > 0) for row in np.asarray(paths)]


def evaluate(model, x, digits, voices) -> dict:
    from kerasdl.metrics.speech import edit_distance, per_group, word_error_rate

    hyps = decode(model.predict(x, batch_size=64, verbose=0))
    errors = [edit_distance(r, h) / len(r) for r, h in zip(digits, hyps)]
    exact = [r == h for r, h in zip(digits, hyps)]
    per_voice_der = {v: word_error_rate([r for r, g in zip(digits, voices) if g == v],
                                        [h for h, g in zip(hyps, voices) if g == v])
                     for v in dict.fromkeys(voices.tolist())}
    return {"digit_error_rate": word_error_rate(digits, hyps), "string_accuracy": float(np.mean(exact)),
            "per_voice_digit_error_rate": per_voice_der,
            "per_voice_string_accuracy": per_group(voices, exact),
            "mean_per_string_error": float(np.mean(errors)),
            "examples": [f"{r} -> {h}" for r, h in list(zip(digits, hyps))[:8]]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--fast", action="store_true", help="a few steps on a tiny subset (CI)")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)

    import keras

    from kerasdl.data.pipelines import from_arrays
    from kerasdl.export import check_builtin_ops, convert, parity
    from kerasdl.registry import create_model
    from kerasdl.train import Trainer

    wall = time.perf_counter()
    data = load_strings(args.fast)
    train, test = data["train"], data["test"]
    x = np.concatenate([train["audio"], train["noisy"]])
    y = np.concatenate([train["labels"], train["labels"]])
    print(f"data: {len(x)} training strings, {len(test['audio'])} test strings "
          f"({time.perf_counter() - wall:.0f} s)", flush=True)

    keras.utils.set_random_seed(0)
    model = create_model("digits_ctc", samples=x.shape[1], **FRONTEND)
    epochs, batch = (1, 8) if args.fast else (args.epochs, 32)
    steps = max(1, len(x) // batch) * epochs
    trainer = Trainer(model, keras.losses.CTC(),
                      keras.optimizers.AdamW(keras.optimizers.schedules.CosineDecay(2e-3, steps),
                                             weight_decay=1e-4, clipnorm=5.0),
                      jit_compile=False, precision="float32", verbose=2)
    start = time.perf_counter()
    trainer.fit(from_arrays(x, y, batch, training=True), epochs=epochs,
                steps_per_epoch=3 if args.fast else None)
    minutes = (time.perf_counter() - start) / 60
    trainer.close()

    results = {"epochs": epochs, "train_minutes": minutes, "params": int(model.count_params()),
               **{f"test_{c}": evaluate(model, test[k], test["digits"], test["voice"])
                  for c, k in (("clean", "audio"), ("noisy", "noisy"))}}
    out = Path(args.out_dir) / ("spoken_digits_ctc" + ("_fast" if args.fast else ""))
    flatbuffer = convert(model, "fp32")
    results["tflite_fp32"] = {"ops": check_builtin_ops(flatbuffer), "size_bytes": len(flatbuffer),
                              "max_abs_logit_error": parity(model, flatbuffer, test["audio"][:8])[
                                  "max_abs_error"]}
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    atomic_write_bytes(out / "digits_ctc_fp32.tflite", flatbuffer)
    results["wall_minutes"] = (time.perf_counter() - wall) / 60
    atomic_write_json(out / "results.json", results)
    for c in ("clean", "noisy"):
        r = results[f"test_{c}"]
        print(f"test {c}: digit error rate {r['digit_error_rate']:.4f}, string accuracy "
              f"{r['string_accuracy']:.4f}; {r['examples'][:4]}", flush=True)
    return results


if __name__ == "__main__":
    main()
