#!/usr/bin/env python
"""NAS on Fashion-MNIST: DARTS, regularised evolution and a one-shot (SPOS) supernet search the
same DARTS cell space; each found cell and random cells are retrained with one budget and tested.

Command:  python pipelines/nas_fashion_mnist.py                     (all three searches)
          python pipelines/nas_fashion_mnist.py --methods darts,evolution
          python pipelines/nas_fashion_mnist.py --fast --out-dir /tmp/x  (CI smoke run)
Data:     Fashion-MNIST train split, seeded permutation: 10,000 search-train and 2,000
          search-validation images (DARTS' α steps, evolution's fitness, the one-shot ranking);
          retraining on 20,000 train-split images (the search-train ones included); test
          accuracy on the full 10,000-image test split, used for nothing else.
Space:    normal cell with 3 intermediate nodes, 7 candidate operations (kerasdl.layers.nas);
          reductions fixed. Search network: channels 8, cells (1, 1), stem ×2 with stride 2.
Recipe:   DARTS first order, 8 epochs × 10 steps of batch 64 (weights Adam 3e-3, α Adam 3e-3 —
          DARTS' 3e-4 barely moves α in 80 steps); evolution P = 4, S = 2, 8 candidates, each
          proxy-trained 40 steps (channels 8) and scored on search-validation; SPOS 5 × 40 steps
          of batch 64 (Adam 3e-3), then 12 random paths ranked by inherited-weight validation
          accuracy. Retraining (kerasdl.automl.cell_training, the kerasdl Trainer): channels 12,
          cells (1, 1), 250 steps of batch 64, AdamW 3e-3 cosine, for each found cell and 2
          random cells of the same space (seeds 1000, 1001).
Hardware: 2-core AMD EPYC (AVX2), no GPU, shared with other jobs (see below).
Last run: 2026-12-02, `python pipelines/nas_fashion_mnist.py`: 2,039 s wall on the machine shared
          with ~5 other jobs (load 8-10 for DARTS, 2-3 afterwards; tracing the supernets costs
          most of the searches' time: DARTS' first epoch took 598 s of its 946). Test accuracy
          after the same 250-step retraining (10,000 test images):
            DARTS      0.8382  (search 946 s, 80 bilevel steps; supernet val acc 0.7265; cell:
                                all sep_conv_5x5; 32,386 params; fp32 TFLite max-abs 5.2e-6)
            evolution  0.8028  (search 234 s, 8 candidates × 40 proxy steps; best fitness 0.2805)
            one-shot   0.8164  (search 206 s: 185 s supernet, 200 steps; 12 paths ranked, best
                                inherited val acc 0.5545)
            random     0.7992, 0.8201 (mean 0.8097)
          The DARTS cell has ~1.8× the random cells' parameters (32k vs 17-18k): same steps,
          not same size. Two random cells and one search each: differences of ~2 points are
          within the random cells' own spread.
Output:   saved_models/nas_fashion_mnist[_fast]/: results.json (per method: genotype, search
          cost, test accuracy; the random cells'), progress_<method>.png (best objective so far
          vs evaluations and wall time); the DARTS cell's network exported to fp32 TFLite in
          saved_models/nas_fashion_mnist[_fast]_darts/.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasdl.arguments import choose  # noqa: E402
from kerasdl.io import atomic_write_json  # noqa: E402

METHODS = ("darts", "evolution", "one_shot")
FULL = {"search_train": 10_000, "search_val": 2_000, "retrain_train": 20_000, "test": None,
        "darts_epochs": 8, "darts_steps": 10, "population": 4, "sample": 2, "candidates": 8,
        "proxy_steps": 40, "one_shot_epochs": 5, "one_shot_steps": 40, "ranked": 12,
        "retrain_steps": 250, "random_cells": 2}
FAST = {"search_train": 512, "search_val": 256, "retrain_train": 512, "test": 500,
        "darts_epochs": 2, "darts_steps": 2, "population": 2, "sample": 1, "candidates": 3,
        "proxy_steps": 4, "one_shot_epochs": 2, "one_shot_steps": 2, "ranked": 3,
        "retrain_steps": 6, "random_cells": 1}
NODES, BATCH = 3, 64
SEARCH_NET = {"channels": 8, "cells_per_stage": (1, 1), "nodes": NODES, "stem_multiplier": 2,
              "stem_strides": 2}


def load(budget, seed=0):
    from kerasdl.registry import load_dataset

    x, y = load_dataset("fashion_mnist", split="train", as_numpy=True)
    x_test, y_test = load_dataset("fashion_mnist", split="test", as_numpy=True)
    order = np.random.default_rng(seed).permutation(len(x))
    a, b = budget["search_train"], budget["search_train"] + budget["search_val"]
    n = budget["test"] or len(x_test)
    return {"search_train": (x[order[:a]], y[order[:a]]), "search_val": (x[order[a:b]], y[order[a:b]]),
            "retrain": (x[order[:budget["retrain_train"]]], y[order[:budget["retrain_train"]]]),
            "test": (x_test[:n], y_test[:n])}


def search_darts(data, budget, out, verbose):
    import keras

    from kerasdl.automl.darts import DartsTrainer, bilevel_data
    from kerasdl.automl.supernet import Supernet
    from kerasdl.data.pipelines import from_arrays

    start = time.perf_counter()
    net = Supernet(seed=0, **SEARCH_NET)
    trainer = DartsTrainer(net, keras.optimizers.Adam(3e-3), keras.optimizers.Adam(3e-3),
                           jit_compile=False, verbose=verbose, log_dir=out / "darts_logs")
    trace = []

    def record(epoch, trainer):
        trace.append({"epoch": epoch, "seconds": time.perf_counter() - start,
                      "genotype": str(trainer.genotype())})

    history = trainer.fit(bilevel_data(*data["search_train"], *data["search_val"], BATCH),
                          epochs=budget["darts_epochs"], steps_per_epoch=budget["darts_steps"],
                          validation_data=from_arrays(*data["search_val"], 500, training=False),
                          callbacks=[record])
    scores = [e["val_accuracy"] for e in history.epochs]
    seconds = np.diff([0.0] + [t["seconds"] for t in trace])
    genotype = trainer.genotype()
    trainer.close()
    return genotype, scores, seconds, "epoch", {
        "steps": budget["darts_epochs"] * budget["darts_steps"], "epochs": trace,
        "alpha_softmax_max": float(np.max(keras.ops.softmax(net.alpha, -1)))}


def search_evolution(data, budget, out, verbose):
    from kerasdl.automl.cell_training import CellTrainingRecipe, train_cell
    from kerasdl.automl.evolution import RegularizedEvolution

    proxy = CellTrainingRecipe(channels=8, steps_per_epoch=budget["proxy_steps"])

    def fitness(genotype):
        return train_cell(genotype, data["search_train"], proxy,
                          evaluate={"val": data["search_val"]})["val_accuracy"]

    evolution = RegularizedEvolution(fitness, budget["population"], budget["sample"], NODES, seed=0)
    best = evolution.run(budget["candidates"], verbose=verbose)
    return best.genotype, [c.fitness for c in evolution.history], \
        [c.seconds for c in evolution.history], "candidate", {
            "candidates": len(evolution.history), "proxy_steps_each": budget["proxy_steps"],
            "best_born": best.born, "best_fitness": best.fitness}


def search_one_shot(data, budget, out, verbose):
    import keras

    from kerasdl.automl.cell_space import random_genotype
    from kerasdl.automl.one_shot import InheritedAccuracy, OneShotTrainer
    from kerasdl.automl.supernet import Supernet
    from kerasdl.data.pipelines import from_arrays

    start = time.perf_counter()
    net = Supernet(seed=0, **SEARCH_NET)
    with OneShotTrainer(net, keras.optimizers.Adam(3e-3), jit_compile=False, verbose=verbose,
                        log_dir=out / "one_shot_logs") as trainer:
        trainer.fit(from_arrays(*data["search_train"], BATCH, training=True),
                    epochs=budget["one_shot_epochs"], steps_per_epoch=budget["one_shot_steps"])
    supernet_seconds = time.perf_counter() - start
    score = InheritedAccuracy(net, *data["search_val"])
    rng = np.random.default_rng(0)
    scores, seconds, candidates = [], [], []
    for _ in range(budget["ranked"]):
        t = time.perf_counter()
        genotype = random_genotype(rng, NODES)
        candidates.append(genotype)
        scores.append(score(genotype))
        seconds.append(time.perf_counter() - t)
    seconds[0] += supernet_seconds  # the supernet's training is the price of the first candidate
    best = int(np.argmax(scores))
    return candidates[best], scores, seconds, "ranked path", {
        "supernet_steps": budget["one_shot_epochs"] * budget["one_shot_steps"],
        "supernet_seconds": round(supernet_seconds, 1), "ranked": len(scores)}


SEARCHES = {"darts": search_darts, "evolution": search_evolution, "one_shot": search_one_shot}


def retrain(genotype, data, budget):
    from kerasdl.automl.cell_training import CellTrainingRecipe, train_cell

    recipe = CellTrainingRecipe(channels=12, steps_per_epoch=budget["retrain_steps"])
    result, model = train_cell(genotype, data["retrain"], recipe,
                               evaluate={"test": data["test"]}, return_model=True)
    return {"genotype": genotype.to_list(), "cell": str(genotype), **result}, model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny budgets on data subsets (CI)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)
    methods = choose(parser, "--methods", args.methods, METHODS)

    from kerasdl.automl.cell_space import random_genotype
    from kerasdl.automl.progress import best_so_far, plot_search_progress
    from kerasdl.export import export_model

    budget = FAST if args.fast else FULL
    name = "nas_fashion_mnist" + ("_fast" if args.fast else "")
    out = Path(args.out_dir) / name
    out.mkdir(parents=True, exist_ok=True)
    verbose = 0 if args.fast else 2
    wall = time.perf_counter()
    data = load(budget)
    results = {"budget": budget, "search_network": SEARCH_NET, "methods": {}, "random": []}
    for method in methods:
        start = time.perf_counter()
        genotype, scores, seconds, unit, details = SEARCHES[method](data, budget, out, verbose)
        search_seconds = time.perf_counter() - start
        curve = best_so_far(scores, seconds, "max", unit)
        plot_search_progress({method: curve}, out / f"progress_{method}.png",
                             objective="search-validation accuracy",
                             title=f"{method} search on Fashion-MNIST; found cell:\n{genotype}")
        row, model = retrain(genotype, data, budget)
        results["methods"][method] = {"search_seconds": round(search_seconds, 1),
                                      "evaluations": len(scores), "unit": unit,
                                      "best_search_score": max(scores), **details,
                                      "retrained": row}
        print(f"{method}: {genotype} | search {search_seconds:.0f} s | "
              f"test accuracy {row['test_accuracy']:.4f}", flush=True)
        if method == "darts":
            meta = export_model(model, f"{name}_darts", out_dir=args.out_dir, modes=("fp32",),
                                test_data=data["test"], latency_runs=10 if args.fast else 50)
            row["tflite_fp32_max_abs_error"] = meta["modes"]["fp32"]["parity"]["max_abs_error"]
        atomic_write_json(out / "results.json", results)
    for i in range(budget["random_cells"]):
        row, _ = retrain(random_genotype(np.random.default_rng(1000 + i), NODES), data, budget)
        results["random"].append(row)
        print(f"random {i}: {row['cell']} | test accuracy {row['test_accuracy']:.4f}", flush=True)
    results["random_mean_test_accuracy"] = float(np.mean([r["test_accuracy"]
                                                          for r in results["random"]]))
    results["wall_seconds"] = round(time.perf_counter() - wall, 1)
    atomic_write_json(out / "results.json", results)
    print(f"wrote {out}: random cells' mean test accuracy "
          f"{results['random_mean_test_accuracy']:.4f}; {results['wall_seconds']} s")
    return results


if __name__ == "__main__":
    main()
