#!/usr/bin/env python
"""Model FLOP utilisation: training FLOP/s of the kerasdl Trainer ÷ this machine's matmul peak
for the dtype in use, both measured in this one run.

Peak: the best of square ``tf.matmul`` products (sizes ``--matmul-sizes``) in a compiled
function, per dtype (float32, and bfloat16 to show whether the CPU has bf16 hardware).
Training FLOPs per image: 3 x forward FLOPs (backward ~ 2 x forward), the forward count being
2 x the multiply-accumulates of kerasdl.analysis (convs and dense layers; the elementwise rest is
left out, as is usual for MFU).

    python benchmarks/mfu.py                                   # resnet50@224, batch 16
    python benchmarks/mfu.py --models resnet50@224,resnet18@32/cifar --batch 32
"""
import argparse
import time

import tensorflow as tf

from common import ModelSpec, machine, save_json, training_flops
from kerasdl.tables import markdown_table  # noqa: E402
from train_step import trainer_runner


def matmul_peak(dtype, sizes=(1024, 2048, 4096), seconds=2.0) -> dict:
    """Best FLOP/s of n x n matmuls of ``dtype`` over ``sizes`` (each run ~``seconds``)."""
    best = {"flops_per_s": 0.0, "size": None}
    for n in sizes:
        a = tf.random.uniform((n, n), dtype=tf.float32)
        a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
        product = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1], tf.float32)))
        product().numpy()  # trace + warm-up
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            product().numpy()
            calls += 1
        rate = 2 * n ** 3 * calls / (time.perf_counter() - start)
        if rate > best["flops_per_s"]:
            best = {"flops_per_s": rate, "size": n}
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet50@224")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--steps-per-execution", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--matmul-sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    print(machine())
    peaks = {name: matmul_peak(getattr(tf, name), args.matmul_sizes)
             for name in ("float32", "bfloat16")}
    for name, peak in peaks.items():
        print(f"matmul peak {name}: {peak['flops_per_s'] / 1e9:.1f} GFLOP/s (n={peak['size']})")
    rows = []
    for text in args.models.split(","):
        spec = ModelSpec(text)
        x, y = spec.images(args.batch * args.steps)
        run, policy = trainer_runner(spec, x, y, args.batch, args.steps, args.steps_per_execution)
        rate = max(run() for _ in range(args.repeats))
        per_image = training_flops(spec.build())
        dtype = "bfloat16" if policy["precision"] == "mixed_bfloat16" else "float32"
        achieved = rate * per_image
        rows.append({"model": text, "batch": args.batch, "images_per_s": rate,
                     "train_gflop_per_image": per_image / 1e9, "achieved_gflop_per_s": achieved / 1e9,
                     "dtype": dtype, "peak_gflop_per_s": peaks[dtype]["flops_per_s"] / 1e9,
                     "mfu": achieved / peaks[dtype]["flops_per_s"], "policy": policy})
    print(markdown_table(
        ["model", "batch", "img/s", "train GFLOP/img", "achieved GFLOP/s", "dtype",
         "matmul peak GFLOP/s", "MFU"],
        [[r["model"], r["batch"], f"{r['images_per_s']:.2f}", f"{r['train_gflop_per_image']:.2f}",
          f"{r['achieved_gflop_per_s']:.1f}", r["dtype"], f"{r['peak_gflop_per_s']:.1f}",
          f"**{100 * r['mfu']:.0f}%**"] for r in rows]))
    save_json(args.json, {"peaks": peaks, "rows": rows})


if __name__ == "__main__":
    main()
