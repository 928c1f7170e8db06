#!/usr/bin/env python
"""Scaling: how the Trainer's step time grows with batch size, input resolution and depth, next
to how the model's FLOPs grow (kerasdl.analysis) — a plot and a table from one run.

Base: ResNet-18 CIFAR form at width ``--width``, 32x32x3 Fashion-MNIST (resized, RGB), batch 32;
one factor varies at a time: batch ``--batches``, resolution ``--sizes``, depth ResNet-18/34/50.
Precision and XLA fixed to the Trainer's choice for convs on this CPU (fp32, XLA off) so that
every point runs the same kernels; steps_per_execution 4; the best of ``--repeats``.

    python benchmarks/scaling.py [--plot benchmarks/scaling.png]
"""
import argparse
import io

import numpy as np

from common import (LOSS, ModelSpec, best_interleaved, machine, save_json,
                    trainer_rate, training_flops)
from kerasdl.tables import markdown_table  # noqa: E402
import kerasdl
from kerasdl.data.pipelines import from_arrays
from kerasdl.io import atomic_write_bytes
from kerasdl.train import Trainer


def step_ms(spec, width, batch, steps, repeats) -> tuple:
    """(best ms per training step, training GFLOP per step) of ``spec`` at ``batch``."""
    build = lambda: kerasdl.create_model(spec.name, **spec.kwargs, width=width)  # noqa: E731
    x, y = spec.images(batch * 2)
    trainer = Trainer(build, LOSS, "adam", verbose=0, precision="float32", jit_compile=False,
                      steps_per_execution=4)
    rate = trainer_rate(trainer, from_arrays(x, y, batch, training=True), batch, steps,
                        warmup_steps=4)
    images_per_s = best_interleaved({"trainer": rate}, repeats)["trainer"]
    gflop = training_flops(trainer.model) * batch / 1e9
    trainer.close()
    return 1000 * batch / images_per_s, gflop


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (factor, points) in zip(axes, results.items()):
        labels = [p["value"] for p in points]
        ms = np.array([p["ms_per_step"] for p in points])
        gflop = np.array([p["gflop_per_step"] for p in points])
        ax.plot(range(len(points)), ms, "o-", label="measured ms/step")
        ax.plot(range(len(points)), gflop / gflop[0] * ms[0], "s--",
                label="FLOP-proportional (from the first point)")
        ax.set_xticks(range(len(points)), [str(v) for v in labels])
        ax.set_xlabel(factor)
        ax.set_ylabel("ms per training step")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Trainer step time vs batch, resolution and depth (ResNet CIFAR form)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(path, buffer.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--depths", default="resnet18,resnet34,resnet50")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--plot", default="benchmarks/scaling.png")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    print(machine())
    base = ModelSpec("resnet18@32/cifar")
    sweeps = {"batch": [(base, b) for b in args.batches],
              "resolution (px)": [(ModelSpec(f"resnet18@{s}/cifar"), 32) for s in args.sizes],
              "depth": [(ModelSpec(f"{d}@32/cifar"), 32) for d in args.depths.split(",")]}
    results = {}
    for factor, points in sweeps.items():
        results[factor] = []
        for spec, batch in points:
            ms, gflop = step_ms(spec, args.width, batch, args.steps, args.repeats)
            value = {"batch": batch, "resolution (px)": spec.size, "depth": spec.name}[factor]
            results[factor].append({"value": value, "model": spec.text, "batch": batch,
                                    "ms_per_step": ms, "gflop_per_step": gflop,
                                    "images_per_s": 1000 * batch / ms,
                                    "gflop_per_s": gflop / ms * 1000})
            print(results[factor][-1], flush=True)
    rows = [[factor, p["value"], p["batch"], f"{p['ms_per_step']:.1f}", f"{p['images_per_s']:.0f}",
             f"{p['gflop_per_step']:.2f}", f"{p['gflop_per_s']:.1f}"]
            for factor, points in results.items() for p in points]
    print(markdown_table(["factor", "value", "batch", "ms/step", "img/s", "train GFLOP/step",
                          "achieved GFLOP/s"], rows))
    if args.plot:
        plot(results, args.plot)
        print(f"plot: {args.plot}")
    save_json(args.json, results)


if __name__ == "__main__":
    main()
