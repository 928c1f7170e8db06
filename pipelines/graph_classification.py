#!/usr/bin/env python
"""Graph classification on MUTAG: GIN vs an MLP on atom-type and bond counts, 10-fold CV.

Command:  python pipelines/graph_classification.py           (10 folds, 100 epochs)
          python pipelines/graph_classification.py --fast --out-dir /tmp/x   (CI smoke run)
Data:     mutag (grakel 0.1.11; 188 molecules, 63 non-mutagenic / 125 mutagenic), one-hot atom
          types (7) as node features, bonds in both directions, padded to 28 nodes / 66 edge rows.
          Stratified 10-fold cross-validation (sklearn StratifiedKFold, shuffled, seed 0).
Recipe:   gin (Xu et al., 2019): 4 GIN-0 layers of 32 units (2-layer MLPs, Linear -> batch norm
          -> ReLU as in the paper's code; the statistics are taken over the real nodes only, via
          Keras BatchNormalization's mask), sum readout of every layer concatenated, dropout 0.5,
          linear head; Adam 0.01 halved every 50 epochs, batch 32, 100 epochs (the paper: up to
          350), no early stopping.
          Baseline "mlp_counts": a 1-hidden-layer MLP (32 units, dropout 0.5; Adam 0.01, same
          schedule) on per-molecule counts, the graph-free readout of the same data: atoms of
          each type (7), nodes and bonds (2), standardised.
Metrics:  test accuracy of the last epoch of each fold, mean ± std over the 10 folds (the paper's
          89.4 ± 5.6 is the best epoch of the averaged CV curve, a more optimistic protocol).
Export:   the last fold's GIN -> saved_models/graph_classification_mutag/ (model.keras,
          saved_model/, fp32 TFLite with built-in ops only, parity on its test fold, metadata.json).
Hardware: 2-core AMD EPYC (AVX2), no GPU.
Last run: 2026-12-02, `python pipelines/graph_classification.py`: 273 s wall (load ~1).
          10-fold last-epoch test accuracy: gin 0.862 ± 0.041 (best epoch of the mean curve
          0.872), mlp_counts 0.851 ± 0.056 (0.857). GIN beats the graph-free counts baseline on
          the mean, by 1.1 points, well inside the fold spread (per fold: 5 wins, 3 losses,
          2 ties), so the margin is not significant. Recipes tried on these same folds before
          the masked batch norm (so every number is, if anything, optimistic): without any norm,
          Adam 0.001 0.825 ± 0.097, Adam 0.01 0.792 ± 0.136; per-node LayerNorm instead of batch
          norm, 0.01: 0.798 ± 0.101, 0.001: 0.750 ± 0.096. Batch norm over the real nodes was
          what mattered (+3.7 points, fold spread halved). Exported: last fold's GIN, fp32 TFLite
          67.5 KB, built-in ops only, max-abs error 2.2e-5, its test fold 0.889 in TFLite,
          0.14 ms per batch of one molecule.
Output:   saved_models/graph_classification/: results.json, cv_accuracy.png.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasdl.io import atomic_write_json  # noqa: E402

FOLDS, EPOCHS, BATCH, DECAY_EPOCHS, EVAL_EVERY = 10, 100, 32, 50, 10
LEARNING_RATES = {"gin": 0.01, "mlp_counts": 0.01}
GIN = {"hidden_units": (32, 32, 32, 32), "mlp_layers": 2, "readout": "sum", "dropout": 0.5}
FAST = {"folds": 2, "epochs": 3}
MODELS = ("gin", "mlp_counts")


def load():
    """Padded GIN inputs (node_features, edges, node_mask), count features [G, 9], labels [G]."""
    from kerasdl.graph import one_hot, pad_graphs
    from kerasdl.registry import load_dataset

    graphs = load_dataset("mutag")
    atoms = [one_hot(g.node_labels, 7) for g in graphs]
    batch = pad_graphs([(x, g.edges) for x, g in zip(atoms, graphs)])
    counts = np.stack([np.concatenate([x.sum(0), [g.num_nodes, len(g.edges) / 2]])
                       for x, g in zip(atoms, graphs)]).astype("float32")
    counts = (counts - counts.mean(0)) / np.where(counts.std(0) > 0, counts.std(0), 1)
    return batch.inputs(with_mask=True), counts, np.array([g.graph_label for g in graphs], np.int32)


def build(model_name):
    import keras

    from kerasdl.registry import create_model

    if model_name == "gin":
        return create_model("gin", num_features=7, num_classes=2, **GIN)
    x = keras.Input((9,), name="counts")
    h = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(x, keras.layers.Dense(2)(keras.layers.Dropout(0.5)(h)), name="mlp_counts")


def take(inputs, index):
    return tuple(a[index] for a in inputs) if isinstance(inputs, tuple) else inputs[index]


class FoldRuns:
    """One model and Trainer for all folds (kerasdl.train.restarts); fold ``k`` restarts from a
    fresh build under seed ``k``."""

    def __init__(self, model_name, steps_per_epoch):
        import keras

        from kerasdl.train import Trainer
        from kerasdl.train.restarts import Restarts

        self.model_name, self.steps_per_epoch = model_name, steps_per_epoch
        schedule = keras.optimizers.schedules.ExponentialDecay(
            LEARNING_RATES[model_name], DECAY_EPOCHS * steps_per_epoch, 0.5, staircase=True)
        self.trainer = Trainer(build(model_name),
                               keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                               keras.optimizers.Adam(schedule),
                               metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                               jit_compile=False, steps_per_execution=steps_per_epoch, verbose=0)
        self.restarts = Restarts(self.trainer)

    def run(self, fold, inputs, y, train, test, epochs):
        """Train on ``train`` from fold ``fold``'s initialisation; the test accuracy after every
        ``EVAL_EVERY`` epochs (one Trainer epoch, so one checkpoint, per evaluation)."""
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(fold)
        self.restarts.reset(build(self.model_name))
        data = tf.data.Dataset.from_tensor_slices((take(inputs, train), y[train]))
        data = data.shuffle(len(train), seed=fold, reshuffle_each_iteration=True).batch(BATCH)
        test_data = tf.data.Dataset.from_tensor_slices((take(inputs, test), y[test])).batch(256)
        every = min(EVAL_EVERY, epochs)
        history = self.trainer.fit(data, epochs=epochs // every, validation_data=test_data,
                                   steps_per_epoch=every * self.steps_per_epoch)
        return [e["val_accuracy"] for e in history.epochs]


def curve_plot(curves, every, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerasdl.io import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, per_fold in curves.items():
        mean, std = np.mean(per_fold, 0), np.std(per_fold, 0)
        epochs = np.arange(1, len(mean) + 1) * every
        ax.plot(epochs, mean, marker="o", label=f"{name} (last {mean[-1]:.3f})")
        ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
    ax.set(xlabel="epoch", ylabel="test-fold accuracy", ylim=(0.4, 1.0),
           title="MUTAG, 10-fold CV: mean ± std over folds")
    ax.legend(loc="lower right")
    save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="2 folds of 3 epochs (CI)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)
    if args.epochs < 1 or (args.epochs > EVAL_EVERY and args.epochs % EVAL_EVERY):
        parser.error(f"--epochs must be positive and, above {EVAL_EVERY}, a multiple of {EVAL_EVERY}")

    from sklearn.model_selection import StratifiedKFold

    from kerasdl.export import export_multi_input_model

    folds, epochs = (FAST["folds"], FAST["epochs"]) if args.fast else (FOLDS, args.epochs)
    suffix = "_fast" if args.fast else ""
    out = Path(args.out_dir) / f"graph_classification{suffix}"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    gin_inputs, counts, y = load()
    splits = list(StratifiedKFold(10, shuffle=True, random_state=0).split(counts, y))[:folds]
    steps = int(np.ceil(len(splits[0][0]) / BATCH))  # every fold trains on 169 or 170 graphs
    results, curves = {}, {}
    for model_name in MODELS:
        inputs = gin_inputs if model_name == "gin" else counts
        runs, run_start = FoldRuns(model_name, steps), time.perf_counter()
        curves[model_name] = [runs.run(k, inputs, y, train, test, epochs)
                              for k, (train, test) in enumerate(splits)]
        last = [c[-1] for c in curves[model_name]]
        results[model_name] = {"accuracy_mean": float(np.mean(last)), "accuracy_std": float(np.std(last)),
                               "fold_accuracies": last,
                               "best_epoch_of_mean_curve": float(np.max(np.mean(curves[model_name], 0))),
                               "seconds": round(time.perf_counter() - run_start, 1)}
        print(f"{model_name:10s} {np.mean(last):.3f} ± {np.std(last):.3f}", flush=True)
        if model_name == "gin":
            test = splits[-1][1]
            meta = export_multi_input_model(runs.trainer.model, f"graph_classification_mutag{suffix}",
                                            take(inputs, test), y=y[test], out_dir=args.out_dir,
                                            metrics={"last_fold_test_accuracy": last[-1]},
                                            latency_runs=10 if args.fast else 50)
            fp32 = meta["modes"]["fp32"]
            results["exported"] = {"model": "gin", "tflite_max_abs_error": fp32["parity"]["max_abs_error"],
                                   "tflite_accuracy": fp32["parity"]["tflite_accuracy"],
                                   "tflite_size_bytes": fp32["size_bytes"],
                                   "tflite_median_ms": fp32["latency"]["threads_1"]["median_ms"]}
        runs.trainer.close()
    curve_plot(curves, min(EVAL_EVERY, epochs), out / "cv_accuracy.png")
    summary = {"folds": folds, "epochs": epochs, "results": results,
               "beats_baseline": results["gin"]["accuracy_mean"] > results["mlp_counts"]["accuracy_mean"],
               "wall_seconds": round(time.perf_counter() - start, 1)}
    atomic_write_json(out / "results.json", summary)
    print(f"wrote {out} in {summary['wall_seconds']} s")
    return summary


if __name__ == "__main__":
    main()
