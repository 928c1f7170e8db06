#!/usr/bin/env python
"""Knowledge-graph link prediction: R-GCN encoder + DistMult decoder vs DistMult vs popularity.

Command:  python pipelines/kg_link_prediction.py                  (Nations and Kinships, all models)
          python pipelines/kg_link_prediction.py --datasets umls --models distmult
          python pipelines/kg_link_prediction.py --fast --out-dir /tmp/x   (CI smoke run)
Data:     pykeen's Nations (14 entities, 55 relations, 1,592/199/201 triples) and Kinships
          (104, 25, 8,544/1,068/1,074), and UMLS on request, with their published splits.
Recipe:   every triple gives a tail query (h, r, ?) and a reciprocal one (t, r + R, ?); 1-vs-all
          softmax cross-entropy on the true answer; Adam (global clipnorm 1), batch 128, 128-d.
          lr 1e-2. distmult: embeddings only. rgcn_distmult: 2 R-GCN layers (10 bases, residual,
          edge dropout 0.3) over the training triples (both directions, messages averaged over
          all edges into a node, c_i = |N_i|) feed the same DistMult decoder. Nations 100 epochs,
          Kinships/UMLS 40; validation MRR every 10 epochs, the best evaluation's weights kept.
Metrics:  filtered MRR and hits@1/3/10 on the test triples, head and tail queries (realistic rank
          for ties; kerasdl.metrics.ranking); popularity baseline = how often an entity answers
          the relation in training.
Export:   the R-GCN model of each dataset as fp32 TFLite (built-in ops only, parity <= 1e-4).
Hardware: 2-core AMD EPYC (AVX2), no GPU, shared with other jobs.
Last run: 2026-12-01, `python pipelines/kg_link_prediction.py --datasets nations`: 376 s wall
          (DistMult 123 s training, XLA 3.6 ms/step; R-GCN 239 s, no XLA 19.8 ms/step vs 29.7
          with) on a machine shared with other jobs (load ~7 on 2 cores). Nations test (402
          queries: 201 triples x head/tail, filtered):
            method          MRR    hits@1  hits@3  hits@10  mean rank  best epoch
            popularity     0.559   0.333   0.719   0.958     3.13
            distmult       0.766   0.649   0.858   0.995     2.06        100
            rgcn_distmult  0.762   0.642   0.851   0.990     2.05        100
          R-GCN misses DistMult by 0.004 MRR (validation 0.780 vs 0.809, still rising at 100
          epochs). Earlier R-GCN variants: per-node mean, random last layer: 0.720; per-relation
          mean, lr 1e-2, no clipping: diverged after 80 epochs. fp32 TFLite of rgcn_distmult:
          built-in ops only, max-abs error 3.1e-5 on 256 test queries.
Output:   saved_models/kg_link_prediction/: results.json, mrr.png; kg_<dataset>_rgcn_distmult/.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasdl.io import atomic_write_json  # noqa: E402

DATASETS = ("nations", "kinships", "umls")
MODELS = ("distmult", "rgcn_distmult")
BATCH = 128
_RGCN = {"num_bases": 10, "edge_dropout": 0.3}
RECIPES = {  # per dataset: epochs, evaluation interval; per model: learning rate, hyperparameters
    "nations": {"epochs": 100, "eval_every": 10,
                "distmult": {"lr": 1e-2, "embedding_dim": 128},
                "rgcn_distmult": {"lr": 1e-2, "embedding_dim": 128, **_RGCN}},
    "kinships": {"epochs": 40, "eval_every": 10,
                 "distmult": {"lr": 1e-2, "embedding_dim": 128},
                 "rgcn_distmult": {"lr": 1e-2, "embedding_dim": 128, **_RGCN}},
    "umls": {"epochs": 40, "eval_every": 10,
             "distmult": {"lr": 1e-2, "embedding_dim": 128},
             "rgcn_distmult": {"lr": 1e-2, "embedding_dim": 128, **_RGCN}},
}
FAST = {"epochs": 4, "eval_every": 2, "embedding_dim": 32}


def query_dataset(queries, targets, batch, seed):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((queries, targets))
    return ds.shuffle(len(queries), seed=seed, reshuffle_each_iteration=True).batch(
        batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def scorer_of(model):
    return lambda q: model.predict(q, batch_size=1024, verbose=0)


def train(graph, name, recipe, fast, out):
    """Train one model; keep the weights of the best validation MRR. Returns (model, record)."""
    import keras

    from kerasdl.data.knowledge_graphs import evaluate_link_prediction, reciprocal_queries
    from kerasdl.registry import create_model
    from kerasdl.train import Trainer
    from kerasdl.train.selection import fit_keeping_best

    keras.utils.set_random_seed(0)
    kwargs = dict(recipe[name], num_entities=graph.num_entities, num_relations=graph.num_relations)
    lr = kwargs.pop("lr")
    if fast:
        kwargs["embedding_dim"] = FAST["embedding_dim"]
    if name == "rgcn_distmult":
        kwargs["num_edges"] = 2 * len(graph.train)
    model = create_model(name, **kwargs)
    if name == "rgcn_distmult":
        model.set_graph(graph.train)
    epochs, every = (FAST["epochs"], FAST["eval_every"]) if fast else (recipe["epochs"], recipe["eval_every"])
    trainer = Trainer(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      keras.optimizers.Adam(lr, global_clipnorm=1.0),
                      jit_compile=False if fast else "auto",
                      log_dir=out / "logs" / f"{graph.name}_{name}", verbose=0)
    data = query_dataset(*reciprocal_queries(graph.train, graph.num_relations), BATCH, seed=0)
    selected = fit_keeping_best(
        trainer, data, epochs=epochs, every=every, key="mrr", label=f"{graph.name} {name} ",
        validate=lambda: evaluate_link_prediction(scorer_of(model), graph, "valid"))
    trainer.close()
    record = {"hyperparameters": kwargs, "lr": lr, "batch": BATCH,
              "best_epoch": selected["best_epoch"],
              "valid": evaluate_link_prediction(scorer_of(model), graph, "valid"),
              "test": evaluate_link_prediction(scorer_of(model), graph, "test"),
              "curve": selected["curve"], "train_seconds": selected["train_seconds"],
              "params": model.count_params(), "policy": trainer.policy}
    return model, record


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerasdl.io import save_figure

    names = list(results)
    methods = list(next(iter(results.values())))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(names), 3.2))
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        values = [results[d][method]["test"]["mrr"] for d in names]
        bars = ax.bar(np.arange(len(names)) + k * width, values, width, label=method)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set_xticks(np.arange(len(names)) + width * (len(methods) - 1) / 2, names)
    ax.set_ylabel("filtered test MRR")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a few epochs, small embeddings (CI)")
    parser.add_argument("--datasets", nargs="+", default=["nations", "kinships"], choices=DATASETS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--no-export", action="store_true", help="skip the TFLite export")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)

    from kerasdl.data.knowledge_graphs import evaluate_link_prediction, popularity_scorer
    from kerasdl.export import export_model
    from kerasdl.registry import load_dataset

    suffix = "_fast" if args.fast else ""
    out = Path(args.out_dir) / f"kg_link_prediction{suffix}"
    out.mkdir(parents=True, exist_ok=True)
    start, results = time.perf_counter(), {}
    for dataset in args.datasets:
        graph = load_dataset(dataset)
        pop = popularity_scorer(graph)
        results[dataset] = {"popularity": {"valid": evaluate_link_prediction(pop, graph, "valid"),
                                           "test": evaluate_link_prediction(pop, graph, "test")}}
        for name in args.models:
            model, results[dataset][name] = train(graph, name, RECIPES[dataset], args.fast, out)
            print(f"{dataset} {name}: test {results[dataset][name]['test']}", flush=True)
            if name == "rgcn_distmult" and not args.no_export:
                from kerasdl.data.knowledge_graphs import reciprocal_queries

                queries = reciprocal_queries(graph.test, graph.num_relations)[0][:256]
                meta = export_model(model, f"kg_{dataset}_{name}{suffix}", out_dir=args.out_dir,
                                    modes=("fp32",), test_data=queries,
                                    metrics={"test_mrr": results[dataset][name]["test"]["mrr"]},
                                    latency_runs=10 if args.fast else 50)
                results[dataset][name]["tflite_fp32_max_abs_error"] = \
                    meta["modes"]["fp32"]["parity"]["max_abs_error"]
        print(f"{dataset} popularity: test {results[dataset]['popularity']['test']}", flush=True)
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    atomic_write_json(out / "results.json", results)
    plot({d: r for d, r in results.items() if d != "wall_seconds"}, out / "mrr.png")
    print(f"wrote {out} in {results['wall_seconds']} s")
    return results


if __name__ == "__main__":
    main()
