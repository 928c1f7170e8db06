#!/usr/bin/env python
"""Grouped convolution on CPU: kerasdl's GroupedConv2D vs keras.layers.Conv2D(groups=G).

TensorFlow has no CPU kernel for grouped convolution and Keras falls back to XLA for it;
GroupedConv2D computes the same function from depthwise/split convs (kerasdl/layers/conv.py).
Both sides train the same model with the same weights on the same real Fashion-MNIST batches
(SGD through ``fit``, XLA off elsewhere); best of ``--repeats`` interleaved timings. The
table also shows the largest difference between the two models' outputs (the same function).

    python benchmarks/grouped_conv.py [--models resnext50_32x4d] [--batch 64] [--steps 3]
"""
import argparse

import keras
import numpy as np

from common import (LOSS, best_interleaved, fashion_images, fit_rate, machine,
                    save_json)
from kerasdl.tables import markdown_table  # noqa: E402
import kerasdl
from kerasdl.layers import GroupedConv2D

# the zoo's Fashion-MNIST forms (pipelines/cnn_zoo.py)
SMALL = {"resnext50_32x4d": {"small_input": True, "width": 0.125}}


def with_keras_grouped_convs(model):
    """The same model, weights included, with every GroupedConv2D replaced by Keras' Conv2D."""
    def clone(layer):
        if isinstance(layer, GroupedConv2D):
            return keras.layers.Conv2D.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin


def step_rate(model, x, y, batch: int, steps: int):
    """A function returning images/s of ``steps`` SGD steps (``fit``, XLA off)."""
    model.compile(keras.optimizers.SGD(1e-3), LOSS, jit_compile=False)
    return fit_rate(model, x, y, batch, steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(SMALL), help="comma-separated")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    x, y = fashion_images(args.batch * args.steps)
    rows = []
    for name in args.models.split(","):
        ours = kerasdl.create_model(name, num_classes=10, input_shape=(28, 28, 1),
                                    **SMALL.get(name, {"small_input": True}))
        if not any(isinstance(layer, GroupedConv2D) for layer in ours.layers):
            parser.error(f"{name} has no grouped convolution")
        twin = with_keras_grouped_convs(ours)
        first = x[:args.batch]
        difference = float(np.max(np.abs(ours.predict(first, verbose=0)
                                         - twin.predict(first, verbose=0))))
        runners = {"kerasdl": step_rate(ours, x, y, args.batch, args.steps),
                   "keras": step_rate(twin, x, y, args.batch, args.steps)}
        rates = best_interleaved(runners, args.repeats)
        rows.append({"model": name, "batch": args.batch, "images_per_s": rates,
                     "ratio": rates["kerasdl"] / rates["keras"],
                     "max_abs_output_difference": difference})
    print(machine())
    print(markdown_table(["model", "batch", "GroupedConv2D img/s", "Keras Conv2D(groups) img/s",
                          "ratio", "max output difference"],
                         [[r["model"], r["batch"], f"{r['images_per_s']['kerasdl']:.1f}",
                           f"{r['images_per_s']['keras']:.1f}", f"{r['ratio']:.2f}x",
                           f"{r['max_abs_output_difference']:.1e}"] for r in rows]))
    save_json(args.json, rows)


if __name__ == "__main__":
    main()
