#!/usr/bin/env python
"""Input pipelines: examples/s each real-data tf.data pipeline delivers vs examples/s its model
consumes in training (target >= 5x), and the effect of parallel map / prefetch / cache.

Delivery: iterate the pipeline exactly as training does (``kerasdl.data.pipelines.from_arrays``:
batched index gather, vectorised map, AUTOTUNE prefetch) with nothing consuming it. Consumption:
Trainer steps of the pipeline's model (fp32, no XLA: the conv policy here) on one cached batch,
so that the input pipeline is out of the measurement. Both best of ``--repeats``.

The knob study (Fashion-MNIST + random flips, batch 128) rebuilds the pipeline the textbook way —
``from_tensor_slices -> shuffle -> map(flip) -> batch`` — and adds one knob at a time.

    python benchmarks/input_pipeline.py [--pipelines fashion_mnist,canvases,...]
"""
import argparse
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from common import LOSS, best_interleaved, machine, save_json, trainer_rate
from kerasdl.tables import markdown_table  # noqa: E402
import kerasdl
from kerasdl.data.pipelines import from_arrays
from kerasdl.train import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))
AUTOTUNE = tf.data.AUTOTUNE


def flip():
    return keras.layers.RandomFlip("horizontal", seed=0)


# ------------------------------------------------- the real pipelines and their models
def fashion_mnist():
    x, y = kerasdl.load_dataset("fashion_mnist", split="train", as_numpy=True)
    return (lambda: from_arrays(x, y, 128, training=True, augment=flip()),
            lambda: kerasdl.create_model("simple_cnn"), LOSS, 128)


def canvases():
    from kerasdl.data.canvases import canvas_dataset, canvases as make
    from kerasdl.detection.losses import MultiBoxLoss

    data, model = make("train", 2000, seed=0), kerasdl.create_model("ssd")
    targets = model.batch_targets(data.boxes, data.classes)
    return (lambda: canvas_dataset(data, targets, 32, training=True), lambda: model,
            MultiBoxLoss(), 32)


def sentiment():
    import sentiment as recipe

    vectorizer, arrays = recipe.load_data(fast=False)
    build = lambda: kerasdl.create_model(  # noqa: E731
        "bilstm_classifier", **recipe.MODEL_KWARGS["bilstm_classifier"], num_classes=2,
        vocab_size=vectorizer.vocabulary_size(), sequence_length=arrays["train"][0].shape[1])
    return (lambda: recipe.dataset(*arrays["train"], training=True), build, LOSS, recipe.BATCH_SIZE)


def speech():
    import keyword_spotting as recipe
    from kerasdl.data.speech import CLASSES

    (x, y), _, _ = recipe.load_data(fast=False)
    build = lambda: kerasdl.create_model(  # noqa: E731
        "kws_cnn", num_classes=len(CLASSES), samples=x.shape[1], **recipe.FRONTEND,
        **recipe.MODELS["kws_cnn"][0])
    return lambda: from_arrays(x, y, 64, training=True), build, LOSS, 64


def moving_mnist():
    from kerasdl.data import moving_mnist as mm

    return (lambda: mm.pipeline("train", 32, training=True), lambda: kerasdl.create_model("c3d"),
            LOSS, 32)


PIPELINES = {"fashion_mnist": fashion_mnist, "canvases": canvases, "sentiment": sentiment,
             "speech": speech, "moving_mnist": moving_mnist}


# -------------------------------------------------------------------------- measurement
def delivery_rate(make_ds, batches: int) -> float:
    """Examples per second iterating ``batches`` batches (after two warm-up batches)."""
    iterator = iter(make_ds().repeat())
    for _ in range(2):
        next(iterator)
    count, start = 0, time.perf_counter()
    for _ in range(batches):
        x, _ = next(iterator)
        count += int(tf.shape(tf.nest.flatten(x)[0])[0])
    return count / (time.perf_counter() - start)


def consumption_rate(make_ds, build, loss, batch, steps: int):
    """A function returning examples/s of Trainer steps on one cached batch."""
    one_batch = make_ds().take(1).cache().repeat()
    trainer = Trainer(build, loss, "adam", verbose=0, precision="float32", jit_compile=False)
    return trainer_rate(trainer, one_batch, batch, steps, warmup_steps=2)


def knob_study(batches: int, repeats: int) -> list:
    """Fashion-MNIST + flips built per example, one knob added at a time, vs from_arrays."""
    x, y = kerasdl.load_dataset("fashion_mnist", split="train", as_numpy=True)
    layer = flip()

    def textbook(parallel=None, prefetch=False, cache=False):
        def make():
            ds = tf.data.Dataset.from_tensor_slices((x, y))
            ds = ds.map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b))
            if cache:
                ds = ds.cache()
            ds = ds.shuffle(10_000, seed=0)
            ds = ds.map(lambda a, b: (layer(a, training=True), b), num_parallel_calls=parallel)
            ds = ds.batch(128, drop_remainder=True)
            return ds.prefetch(AUTOTUNE) if prefetch else ds
        return make

    variants = {"per-example map, sequential": textbook(),
                "+ parallel map (AUTOTUNE)": textbook(AUTOTUNE),
                "+ prefetch": textbook(AUTOTUNE, True),
                "+ cache (after decode, before shuffle)": textbook(AUTOTUNE, True, True),
                "kerasdl from_arrays (batched gather + vectorised map + prefetch)":
                    lambda: from_arrays(x, y, 128, training=True, augment=flip())}
    best = best_interleaved({k: (lambda m=m: delivery_rate(m, batches)) for k, m in variants.items()},
                            repeats)
    return [{"variant": k, "examples_per_s": v} for k, v in best.items()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--batches", type=int, default=60, help="batches per delivery timing")
    parser.add_argument("--steps", type=int, default=6, help="training steps per consumption timing")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    names = args.pipelines.split(",")
    unknown = sorted(set(names) - set(PIPELINES))
    if unknown:
        parser.error(f"unknown pipelines {unknown}; choose from {sorted(PIPELINES)}")

    print(machine())
    rows = []
    for name in names:
        make_ds, build, loss, batch = PIPELINES[name]()
        consume = consumption_rate(make_ds, build, loss, batch, args.steps)
        best = best_interleaved({"deliver": lambda: delivery_rate(make_ds, args.batches),
                                 "consume": consume}, args.repeats)
        rows.append({"pipeline": name, "batch": batch, **best,
                     "ratio": best["deliver"] / best["consume"]})
        print(rows[-1], flush=True)
    print(markdown_table(["pipeline", "batch", "delivered examples/s", "model consumes examples/s",
                          "headroom"],
                         [[r["pipeline"], r["batch"], f"{r['deliver']:,.0f}", f"{r['consume']:,.0f}",
                           f"**{r['ratio']:.1f}x**"] for r in rows]))
    knobs = knob_study(args.batches, args.repeats)
    print(markdown_table(["Fashion-MNIST + flips, batch 128", "examples/s"],
                         [[k["variant"], f"{k['examples_per_s']:,.0f}"] for k in knobs]))
    save_json(args.json, {"pipelines": rows, "knobs": knobs})


if __name__ == "__main__":
    main()
