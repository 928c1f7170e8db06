#!/usr/bin/env python
"""Train-step throughput: the kerasdl Trainer (its chosen policy) vs plain Keras compile()/fit().

Same architecture, same real Fashion-MNIST batches, same batch size, one process, side by side.
Prints images/s for each (best of ``--repeats`` interleaved runs, to damp the noise of a shared
VM), the ratio, and the policy the Trainer chose (precision, XLA on/off and the XLA trial
timings, steps_per_execution).

    python benchmarks/train_step.py                      # simple_cnn and mlp, batch 128
    python benchmarks/train_step.py --models mlp --steps 50
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

import kerasdl  # noqa: E402
from kerasdl.data.pipelines import from_arrays  # noqa: E402
from kerasdl.train import Trainer, precision_scope  # noqa: E402

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


class EpochTimer(keras.callbacks.Callback):
    """Seconds from the start to the end of an epoch's steps (fit's set-up excluded)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def kerasdl_runner(name, x, y, batch, steps, spe):
    """A function timing ``steps`` Trainer steps (policy trial and tracing happen up front)."""
    trainer = Trainer(lambda: kerasdl.create_model(name), LOSS, "adam", verbose=0,
                      steps_per_execution=spe)
    data = from_arrays(x, y, batch, training=True)
    trainer.fit(data, epochs=1, steps_per_epoch=spe)  # policy trial, tracing, warm-up
    epochs = [1]

    def run():
        epochs[0] += 1
        trainer.fit(data, epochs=epochs[0], steps_per_epoch=steps, resume=True)  # one more epoch
        return steps * batch / trainer.epoch_seconds[-1]  # steps only, as on the Keras side

    return run, trainer.policy


def keras_runner(name, x, y, batch, steps):
    """The same for plain Keras compile()/fit() with default settings."""
    with precision_scope("float32"):
        model = kerasdl.create_model(name)
    model.compile(keras.optimizers.Adam(), LOSS)  # Keras defaults: jit_compile="auto", spe=1
    n = steps * batch
    model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)  # tracing, warm-up

    timer = EpochTimer()

    def run():
        model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0, shuffle=True,
                  callbacks=[timer])
        return n / timer.seconds

    return run, {"jit_compile": model.jit_compile, "steps_per_execution": 1,
                 "precision": model.dtype_policy.name}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="simple_cnn,mlp")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=24, help="timed steps per side")
    parser.add_argument("--steps-per-execution", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternate the two sides this many times; report the best of each")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    x, y = kerasdl.load_dataset("fashion_mnist", split="train", as_numpy=True)
    rows = []
    for name in args.models.split(","):
        run_ours, policy = kerasdl_runner(name, x, y, args.batch, args.steps,
                                          args.steps_per_execution)
        run_theirs, keras_policy = keras_runner(name, x, y, args.batch, args.steps)
        timings = [(run_ours(), run_theirs()) for _ in range(args.repeats)]  # interleaved
        ours, theirs = (max(side) for side in zip(*timings))
        rows.append({"model": name, "batch": args.batch, "kerasdl_images_per_s": round(ours, 1),
                     "keras_fit_images_per_s": round(theirs, 1), "ratio": round(ours / theirs, 3),
                     "kerasdl_policy": policy, "keras_fit_policy": keras_policy})
        print(f"{name}: kerasdl {ours:.0f} img/s | keras fit {theirs:.0f} img/s | "
              f"ratio {ours / theirs:.2f}x | policy {json.dumps(policy)}", flush=True)

    print("\n| model | batch | kerasdl img/s | keras fit img/s | ratio | precision | XLA | "
          "XLA trial ms/step (off/on) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        p = r["kerasdl_policy"]
        trial = p["jit_trial_ms_per_step"]
        print(f"| {r['model']} | {r['batch']} | {r['kerasdl_images_per_s']:.0f} | "
              f"{r['keras_fit_images_per_s']:.0f} | {r['ratio']:.2f}x | {p['precision']} | "
              f"{'on' if p['jit_compile'] else 'off'} | "
              f"{trial.get('no_xla', '-')}/{trial.get('xla', '-')} |")
    if args.json:
        from kerasdl.io import atomic_write_json

        atomic_write_json(args.json, rows)


if __name__ == "__main__":
    main()
