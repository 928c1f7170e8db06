#!/usr/bin/env python
"""Train-step throughput: the kerasdl Trainer (its chosen policy, then one factor flipped at a
time) vs plain Keras compile()/fit() on the same architecture, batch and real data.

The Keras side is the keras.applications model (``weights=None``) where one exists for the
architecture and stem (ResNet50, MobileNetV2 with the ImageNet stem), else the same kerasdl
model under compile()/fit() defaults (``jit_compile="auto"``, which is off on CPU; one step per
call; float32). Data: real Fashion-MNIST, resized and repeated to RGB for ``@size`` specs.
Only the steps are timed on every side; the best of ``--repeats`` interleaved runs is reported.

    python benchmarks/train_step.py                                  # simple_cnn and mlp
    python benchmarks/train_step.py --models resnet18@32/cifar,resnet50@32,mobilenet_v2@32
    python benchmarks/train_step.py --models resnet50@224 --batch 16 --steps 4 \
        --steps-per-execution 4 --repeats 2
"""
import argparse
import json

import keras

from common import (LOSS, ModelSpec, best_interleaved, fit_rate, machine,
                    save_json, trainer_rate)
from kerasdl.tables import markdown_table  # noqa: E402
from kerasdl.data.pipelines import from_arrays
from kerasdl.train import Trainer, precision_scope

APPLICATIONS = {"resnet50": "ResNet50", "mobilenet_v2": "MobileNetV2"}
OTHER_PRECISION = {"float32": "mixed_bfloat16", "mixed_bfloat16": "float32"}


def keras_model(spec: ModelSpec):
    """The keras.applications twin of ``spec`` when there is one, else the kerasdl model."""
    with precision_scope("float32"):
        if spec.name in APPLICATIONS and spec.size and not spec.small_input:
            build = getattr(keras.applications, APPLICATIONS[spec.name])
            return build(weights=None, input_shape=spec.input_shape, classes=spec.num_classes,
                         classifier_activation=None), f"keras.applications.{build.__name__}"
        return spec.build(), f"kerasdl {spec.name} under compile()/fit()"


def trainer_runner(spec, x, y, batch, steps, spe, precision="auto", jit_compile="auto"):
    """A function timing ``steps`` Trainer steps (policy trial and tracing happen up front)."""
    trainer = Trainer(spec.build, LOSS, "adam", verbose=0, steps_per_execution=spe,
                      precision=precision, jit_compile=jit_compile)
    data = from_arrays(x, y, batch, training=True)
    return trainer_rate(trainer, data, batch, steps, warmup_steps=spe), trainer.policy


def keras_runner(spec, x, y, batch, steps):
    """The same for plain Keras compile()/fit() with default settings."""
    model, label = keras_model(spec)
    model.compile(keras.optimizers.Adam(), LOSS)  # Keras defaults: jit_compile="auto", spe=1
    return fit_rate(model, x, y, batch, steps), label, model.count_params()


def variants(policy: dict, spe: int, ablate: bool) -> dict:
    """The Trainer's own policy, then each of its factors flipped alone."""
    chosen = {"precision": policy["precision"], "jit_compile": policy["jit_compile"], "spe": spe}
    out = {}
    if ablate:
        out[f"XLA {'off' if chosen['jit_compile'] else 'on'}"] = {
            **chosen, "jit_compile": not chosen["jit_compile"]}
        out[OTHER_PRECISION[chosen["precision"]]] = {
            **chosen, "precision": OTHER_PRECISION[chosen["precision"]]}
        if spe > 1:
            out["steps_per_execution 1"] = {**chosen, "spe": 1}
    return out


def benchmark(spec, args) -> dict:
    x, y = spec.images(max(args.batch * args.steps, args.batch * 4))
    ours, policy = trainer_runner(spec, x, y, args.batch, args.steps, args.steps_per_execution)
    theirs, label, params = keras_runner(spec, x, y, args.batch, args.steps)
    runners = {"kerasdl": ours, "keras": theirs}
    for name, v in variants(policy, args.steps_per_execution, not args.no_ablations).items():
        runners[name] = trainer_runner(spec, x, y, args.batch, args.steps, v["spe"], v["precision"],
                                       v["jit_compile"])[0]
    best = best_interleaved(runners, args.repeats)
    row = {"model": spec.text, "batch": args.batch, "keras_side": label, "params": params,
           "kerasdl_policy": policy, "images_per_s": {k: round(v, 2) for k, v in best.items()},
           "ratio": round(best["kerasdl"] / best["keras"], 3)}
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="simple_cnn,mlp",
                        help="comma list of NAME, NAME@SIZE (ImageNet stem) or NAME@SIZE/cifar")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=24, help="timed steps per side and repeat")
    parser.add_argument("--steps-per-execution", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternate the sides this many times; report the best of each")
    parser.add_argument("--no-ablations", action="store_true",
                        help="only the Trainer's policy vs Keras, no factor flipped")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.steps % args.steps_per_execution:
        parser.error("--steps must be a multiple of --steps-per-execution")
    specs = [ModelSpec(text) for text in args.models.split(",")]

    print(machine())
    rows = [benchmark(spec, args) for spec in specs]
    table = []
    for r in rows:
        p, rates = r["kerasdl_policy"], r["images_per_s"]
        ablation = ", ".join(f"{k} {rates['kerasdl'] / v:.2f}x" for k, v in rates.items()
                             if k not in ("kerasdl", "keras"))
        table.append([r["model"], r["batch"], r["keras_side"], f"{rates['kerasdl']:.1f}",
                      f"{rates['keras']:.1f}", f"**{r['ratio']:.2f}x**", p["precision"],
                      "on" if p["jit_compile"] else "off", ablation or "-"])
    print(markdown_table(["model", "batch", "Keras side", "kerasdl img/s", "Keras fit img/s",
                          "ratio", "precision", "XLA", "policy gain over flipping one factor"],
                         table))
    save_json(args.json, rows)


if __name__ == "__main__":
    main()
