#!/usr/bin/env python
"""PinSage on MovieLens-100k: random-walk neighbourhoods, importance pooling, max-margin loss with
hard negatives; top-k recommendation vs popularity and random-walk (PPR) baselines.

Command:  python pipelines/pinsage_movielens.py
          python pipelines/pinsage_movielens.py --hard-negatives 0     (ablation: random only)
          python pipelines/pinsage_movielens.py --fast --out-dir /tmp/x   (CI smoke run)
Data:     MovieLens-100k (recbole's copy), every rating an implicit interaction; per-user
          time-ordered split (each user's last 10% test, the 10% before validation, the rest
          train: 80,808 / 9,596 / 9,596). User features: age group, gender, occupation; item
          features: 19 genres, release year.
Recipe:   graph = training interactions only. Walks with restart (α = 0.3, 1,000 per node) give
          each item its 10 most visited items and each user its 10 most visited items, with
          normalised visit counts as pooling weights. pinsage: 2 item convolutions + 1 user
          convolution, 64-d, id embeddings + features, cosine scores. Each training pair (user,
          item) gets 10 uniform random negatives and --hard-negatives items drawn from the band of
          ranks 100-400 of the user's visit counts (own training items removed); max-margin loss
          (margin 0.1); Adam 1e-3, batch 512, 15 epochs (157 steps each), validation every 3; the
          evaluation with the best validation NDCG@10 is kept.
Metrics:  recall@k, NDCG@k, hits@k on the test interactions over all items, excluding each
          user's training and validation items (kerasdl.metrics.ranking); averaged over 943 users.
Export:   fp32 TFLite (built-in ops only, parity <= 1e-4) scoring 1 user x 11 candidates.
Hardware: 2-core AMD EPYC (AVX2), no GPU, shared with other jobs.
Last run: 2026-12-01, `python pipelines/pinsage_movielens.py` (15 epochs): 948 s wall, 873 s
          training (Trainer trial: 288 ms/step without XLA, 178 with, so XLA), sampler 18 s,
          on a machine shared with ~5 other jobs (load ~10 on 2 cores). Best = last evaluation
          (epoch 15; validation NDCG@10 still rising: 0.098, 0.109, 0.105, 0.108, 0.114).
          Test (943 users, 9,596 held-out interactions, all 1,682 items ranked):
            method           recall@10  NDCG@10  hits@10  recall@20  recall@50
            pinsage            0.1079    0.1117   0.4528    0.1879     0.3509
            popularity         0.0704    0.0789   0.3669    0.1070     0.2056
            random-walk PPR    0.0618    0.0662   0.3245    0.1110     0.2024
          fp32 TFLite: 0.93 MB, built-in ops only, max-abs error 2.7e-7 on 256 training queries,
          batch-1 median latency 0.02 ms (the item tower is folded into a constant table).
Output:   saved_models/pinsage_movielens/: metrics.json, recall_at_k.png, logs/; the export.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasdl.io import atomic_write_json  # noqa: E402

NUM_NEIGHBORS, NUM_WALKS, RESTART = 10, 1000, 0.3
EMBEDDING_DIM, RANDOM_NEGATIVES, HARD_BAND, MARGIN = 64, 10, (100, 400), 0.1
EPOCHS, EVAL_EVERY, BATCH, LEARNING_RATE = 15, 3, 512, 1e-3
KS = (5, 10, 20, 50)
FAST = {"epochs": 2, "eval_every": 1, "num_walks": 50, "embedding_dim": 16, "train": 8000}


def history_by_user(ratings, num_users):
    """Each user's items in ``ratings``, as arrays."""
    order = np.argsort(ratings.user, kind="stable")
    return np.split(ratings.item[order], np.cumsum(np.bincount(ratings.user, minlength=num_users))[:-1])


def training_data(users, items, hard_pool, num_items, num_hard, batch, seed=0):
    """(queries [B, 2 + K + H], labels [B, 1 + K + H]): user, positive, K random and H hard
    negatives (a random column of the user's hard pool), drawn afresh on every pass."""
    import tensorflow as tf

    pool = tf.constant(hard_pool)

    def with_negatives(pair, key):
        u, i = pair
        b = tf.shape(u)[0]
        seeds = tf.stack([key, tf.zeros_like(key)])  # stateless: the iterator can be checkpointed
        negatives = [tf.random.stateless_uniform((b, RANDOM_NEGATIVES), seeds, 0, num_items, tf.int32)]
        if num_hard:
            columns = tf.random.stateless_uniform((b, num_hard), seeds + 1, 0, pool.shape[1], tf.int32)
            negatives.append(tf.gather(tf.gather(pool, u), columns, batch_dims=1))
        queries = tf.concat([tf.stack([u, i], 1), *negatives], 1)
        labels = tf.one_hot(tf.zeros_like(u), 1 + RANDOM_NEGATIVES + num_hard)
        return queries, labels

    pairs = tf.data.Dataset.from_tensor_slices((users.astype(np.int32), items.astype(np.int32)))
    pairs = pairs.shuffle(len(users), seed=seed, reshuffle_each_iteration=True).batch(
        batch, drop_remainder=True)
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip(pairs, keys).map(with_negatives).prefetch(tf.data.AUTOTUNE)


def evaluate(scores, seen, relevant, ks=KS):
    from kerasdl.metrics.ranking import recommendation_metrics, top_k_items

    return recommendation_metrics(top_k_items(scores, seen, max(ks)), relevant, ks)


def recall_curve(scores, seen, relevant, k_max=50):
    """recall@k for k = 1..k_max."""
    from kerasdl.metrics.ranking import recommendation_metrics, top_k_items

    top = top_k_items(scores, seen, k_max)
    ks = tuple(range(1, k_max + 1))
    metrics = recommendation_metrics(top, relevant, ks)
    return [metrics[f"recall@{k}"] for k in ks]


def plot_curves(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerasdl.io import save_figure

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel("k (recommended items)")
    ax.set_ylabel("test recall@k")
    ax.set_title("MovieLens-100k, per-user time-ordered test split")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a few steps on a subset (CI)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--hard-negatives", type=int, default=2, help="hard negatives per pair")
    parser.add_argument("--no-ids", action="store_true", help="features only (inductive model)")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)

    import keras

    from kerasdl.data.movielens import movielens_100k, movielens_100k_features
    from kerasdl.data.random_walks import bipartite_importance, ranked_band
    from kerasdl.export import export_model
    from kerasdl.losses import MaxMarginRankingLoss
    from kerasdl.registry import create_model
    from kerasdl.train import Trainer
    from kerasdl.train.selection import fit_keeping_best

    fast = args.fast
    epochs, every = (FAST["epochs"], FAST["eval_every"]) if fast else (args.epochs, EVAL_EVERY)
    name = f"pinsage_movielens{'_fast' if fast else ''}"
    out = Path(args.out_dir) / name
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    train, valid, test = (movielens_100k(s) for s in ("train", "validation", "test"))
    features = movielens_100k_features()
    num_users, num_items = len(features.age), len(features.title)
    train_items = history_by_user(train, num_users)
    valid_items, test_items = history_by_user(valid, num_users), history_by_user(test, num_users)
    seen_at_test = [np.concatenate(p) for p in zip(train_items, valid_items)]

    tables = bipartite_importance(train.user, train.item, num_users, num_items,
                                  num_neighbors=NUM_NEIGHBORS, restart_prob=RESTART,
                                  num_walks=FAST["num_walks"] if fast else NUM_WALKS)
    visits = tables.pop("user_item_visits")
    hard_pool = ranked_band(visits, train_items, HARD_BAND)
    sampler_seconds = time.perf_counter() - start

    popularity = np.tile(np.bincount(train.item, minlength=num_items).astype(np.float64), (num_users, 1))
    baselines = {"popularity": popularity, "random-walk PPR": visits + 1e-3 * popularity}
    results = {"baselines": {n: {"validation": evaluate(s, train_items, valid_items),
                                 "test": evaluate(s, seen_at_test, test_items)}
                             for n, s in baselines.items()}}

    keras.utils.set_random_seed(0)
    model = create_model("pinsage", num_users=num_users, num_items=num_items,
                         user_feature_dim=features.user_matrix().shape[1],
                         item_feature_dim=features.item_matrix().shape[1],
                         num_neighbors=NUM_NEIGHBORS, use_ids=not args.no_ids,
                         embedding_dim=FAST["embedding_dim"] if fast else EMBEDDING_DIM,
                         num_candidates=1 + RANDOM_NEGATIVES + args.hard_negatives)
    model.set_graph(item_features=features.item_matrix(), user_features=features.user_matrix(),
                    **tables)
    pairs = (train.user, train.item) if not fast else (train.user[:FAST["train"]], train.item[:FAST["train"]])
    data = training_data(*pairs, hard_pool, num_items, args.hard_negatives, BATCH)
    trainer = Trainer(model, MaxMarginRankingLoss(MARGIN), keras.optimizers.Adam(LEARNING_RATE),
                      jit_compile=False if fast else "auto", log_dir=out / "logs", verbose=2)
    users = np.arange(num_users)
    selected = fit_keeping_best(
        trainer, data, epochs=epochs, every=every, key="ndcg@10",
        validate=lambda: evaluate(model.score_all(users), train_items, valid_items))
    scores = model.score_all(users)
    results["pinsage"] = {"best_epoch": selected["best_epoch"],
                          "validation": evaluate(scores, train_items, valid_items),
                          "test": evaluate(scores, seen_at_test, test_items),
                          "curve": selected["curve"], "train_seconds": selected["train_seconds"],
                          "policy": trainer.policy,
                          "hard_negatives": args.hard_negatives, "use_ids": not args.no_ids}
    results["sampler_seconds"] = round(sampler_seconds, 1)
    curves = {"pinsage": recall_curve(scores, seen_at_test, test_items),
              **{n: recall_curve(s, seen_at_test, test_items) for n, s in baselines.items()}}
    results["recall_curves"] = curves
    plot_curves(curves, out / "recall_at_k.png")

    queries = next(iter(data))[0].numpy()[:256]
    meta = export_model(model, name, out_dir=args.out_dir, modes=("fp32",), test_data=queries,
                        metrics={"test_ndcg@10": results["pinsage"]["test"]["ndcg@10"]},
                        latency_runs=10 if fast else 50)
    results["tflite_fp32"] = {k: meta["modes"]["fp32"][k] for k in ("size_bytes", "latency")}
    results["tflite_fp32"]["max_abs_error"] = meta["modes"]["fp32"]["parity"]["max_abs_error"]
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    trainer.close()
    atomic_write_json(out / "metrics.json", results)
    for method, r in [("pinsage", results["pinsage"]), *results["baselines"].items()]:
        print(f"{method}: test " + ", ".join(f"{k} {r['test'][k]:.4f}" for k in
                                             ("recall@10", "ndcg@10", "hits@10", "recall@20")))
    print(f"wrote {out} in {results['wall_seconds']} s")
    return results


if __name__ == "__main__":
    main()
