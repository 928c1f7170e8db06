#!/usr/bin/env python
"""Time to accuracy on Fashion-MNIST: wall seconds until the 10k test images reach ``--target``
(default 93%), the kerasdl recipe vs an equivalent plain-Keras ``fit`` recipe, same model.

kerasdl: the Trainer (its precision/XLA policy, steps_per_execution 8), AdamW with cosine decay
over ``--epochs``, weight decay 1e-4, label smoothing 0.1, random horizontal flips, batch 256.
Keras: ``compile(Adam())`` defaults and ``fit(batch_size=128)`` on the same images, no schedule,
no augmentation. Both evaluate on the test set after every epoch and stop at the target (the
DAWNBench protocol); the clock includes tracing, the XLA trial and those evaluations. A side
that never reaches the target reports its best accuracy, and the ratio is then a bound.

    python benchmarks/time_to_accuracy.py [--epochs 12] [--model-kwargs '{"filters": [64, 128, 256]}']
"""
import argparse
import json
import time

import keras

from common import LOSS, machine, save_json
from kerasdl.tables import markdown_table  # noqa: E402
import kerasdl
from kerasdl.data.pipelines import from_arrays
from kerasdl.losses import classification_loss
from kerasdl.train import Trainer, precision_scope


def kerasdl_side(build, train, test, args) -> dict:
    (x, y), (x_test, y_test) = train, test
    data = from_arrays(x, y, 256, training=True, augment=keras.layers.RandomFlip("horizontal", seed=0))
    steps = len(x) // 256
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, args.epochs * steps, alpha=0.01)
    start = time.perf_counter()
    trainer = Trainer(build, classification_loss(0.1), keras.optimizers.AdamW(schedule, weight_decay=1e-4),
                      [keras.metrics.SparseCategoricalAccuracy(name="accuracy")], steps_per_execution=8,
                      verbose=2)
    test_data = from_arrays(x_test, y_test, 1000, training=False)
    curve = []
    for epoch in range(1, args.epochs + 1):
        trainer.fit(data, epochs=epoch, resume=epoch > 1)
        curve.append((time.perf_counter() - start, trainer.evaluate(test_data)["accuracy"]))
        if curve[-1][1] >= args.target:
            break
    return {"curve": curve, "policy": trainer.policy}


class StopAt(keras.callbacks.Callback):
    def __init__(self, target, start):
        super().__init__()
        self.target, self.start, self.curve = target, start, []

    def on_epoch_end(self, epoch, logs=None):
        self.curve.append((time.perf_counter() - self.start, logs["val_accuracy"]))
        if logs["val_accuracy"] >= self.target:
            self.model.stop_training = True


def keras_side(build, train, test, args) -> dict:
    (x, y), (x_test, y_test) = train, test
    start = time.perf_counter()
    with precision_scope("float32"):
        model = build()
    model.compile(keras.optimizers.Adam(), LOSS, metrics=["accuracy"])
    stop = StopAt(args.target, start)
    model.fit(x / 255.0, y, batch_size=128, epochs=args.keras_epochs, verbose=2,
              validation_data=(x_test / 255.0, y_test), callbacks=[stop])
    return {"curve": stop.curve}


def summary(name, result, target) -> dict:
    reached = [t for t, acc in result["curve"] if acc >= target]
    return {"side": name, "seconds_to_target": reached[0] if reached else None,
            "epochs": len(result["curve"]), "best_accuracy": max(a for _, a in result["curve"]),
            "wall_seconds": result["curve"][-1][0], **result}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="simple_cnn")
    parser.add_argument("--model-kwargs", default="{}", help="JSON dict")
    parser.add_argument("--target", type=float, default=0.93)
    parser.add_argument("--epochs", type=int, default=12, help="kerasdl's schedule length (max)")
    parser.add_argument("--keras-epochs", type=int, default=24, help="the Keras side's maximum")
    parser.add_argument("--train-examples", type=int, default=None, help="fewer, for a smoke run")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    kwargs = json.loads(args.model_kwargs)

    def build():
        return kerasdl.create_model(args.model, **kwargs)

    x, y = kerasdl.load_dataset("fashion_mnist", split="train", as_numpy=True)
    test = kerasdl.load_dataset("fashion_mnist", split="test", as_numpy=True)
    train = (x[: args.train_examples], y[: args.train_examples])
    print(machine())
    rows = [summary("kerasdl", kerasdl_side(build, train, test, args), args.target),
            summary("keras fit", keras_side(build, train, test, args), args.target)]
    ours, theirs = (r["seconds_to_target"] for r in rows)
    ratio = ours / theirs if ours and theirs else None
    print(markdown_table(
        ["side", "seconds to target", "epochs run", "best test accuracy", "wall s"],
        [[r["side"], "not reached" if r["seconds_to_target"] is None else f"{r['seconds_to_target']:.0f}",
          r["epochs"], f"{100 * r['best_accuracy']:.2f}%", f"{r['wall_seconds']:.0f}"] for r in rows]))
    print(f"kerasdl / keras time-to-{100 * args.target:.0f}%: "
          + (f"{ratio:.2f}x" if ratio else "no ratio (a side did not reach the target)"))
    save_json(args.json, {"target": args.target, "model": args.model, "model_kwargs": kwargs,
                          "rows": rows, "ratio": ratio})


if __name__ == "__main__":
    main()
