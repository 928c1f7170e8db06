#!/usr/bin/env python
"""Recommender systems on MovieLens-100k: rating prediction (MF, FM), click-style prediction (FM,
FFM, Wide & Deep, DeepFM, DCN, DCN-v2, DIN) and two-tower retrieval, each against baselines.

Command:  python pipelines/recommender.py
          python pipelines/recommender.py --parts ctr --models deepfm,din
          python pipelines/recommender.py --fast --out-dir /tmp/x   (CI smoke run)
Data:     MovieLens-100k (recbole's copy); the per-user time-ordered split of
          kerasdl.data.movielens (each user's last 10% of ratings test, the 10% before validation:
          80,808 / 9,596 / 9,596); rating prediction also on a uniformly random 80/10/10 split
          (the usual protocol of the published MF figures; it leaks users' futures). Feature
          columns: kerasdl.data.movielens_features (Keras preprocessing layers adapted on train,
          outside the models): 26 fields, 2,687 ids. Click = rating >= 4 (57% of train).
Recipe:   see RATING, CTR, RETRIEVAL below: Adam, fixed epochs, validation after each block of
          epochs, the weights of the best validation score kept (RMSE / AUC / NDCG@10).
Metrics:  test RMSE (predictions clipped to [1, 5]); test AUC (keras.metrics.AUC), log-loss, GAUC
          (kerasdl.metrics.ctr); recall@k / NDCG@k over all items with each user's train and
          validation items excluded (kerasdl.metrics.ranking), 943 users.
Hardware: 2-core AMD EPYC (AVX2), no GPU, shared with other jobs.
Last run: 2026-12-02 as four parallel partial runs (see docs/recommender.md), load 20-40 on 2
          cores: 1,592 s rating, 1,709 s CTR (3 models + export), 2,084 s retrieval. Test:
          RMSE time-ordered mf 0.994, fm 0.984 (user+item bias 1.043); random split mf 0.912,
          fm 0.920 (rating part rerun 10:52 on the idle CPU: 80.6 s).
          AUC / GAUC: popularity 0.732 / 0.698; fm 0.790 / 0.710, ffm 0.791 / 0.708, wide_deep
          0.790 / 0.711, deepfm 0.791 / 0.711, dcn 0.788 / 0.708, dcn_v2 0.788 / 0.707, din
          0.784 / 0.713. Retrieval recall@10 / NDCG@10: two_tower 0.111 / 0.119, popularity
          0.070 / 0.079. Bidding: paced DeepFM 729 clicks vs greedy 454.
Output:   saved_models/recommender[_<parts>]/: metrics.json, recommender.png; the DeepFM export
          (saved_models/recommender_deepfm/: fp32 TFLite, built-in ops, parity).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasdl.arguments import choose  # noqa: E402
from kerasdl.io import atomic_write_json  # noqa: E402

PARTS = ("rating", "ctr", "retrieval", "bidding")
CTR_MODELS = ("fm", "ffm", "wide_deep", "deepfm", "dcn", "dcn_v2", "din")
RATING = {"mf": {"embedding_dim": 32, "l2": 0.05}, "fm": {"embedding_dim": 16},
          "epochs": 4, "every": 2, "batch": 1024, "lr": 5e-3,
          "models": {"time-ordered": ("mf", "fm"), "random": ("mf", "fm")}}
CTR = {"hyper": {"fm": {"embedding_dim": 16}, "ffm": {"embedding_dim": 4},
                 "din": {"history_length": 50}},
       "epochs": 2, "every": 1, "batch": 1024, "lr": 2e-3}
RETRIEVAL = {"epochs": 10, "every": 2, "batch": 1024, "lr": 2e-3, "temperature": 0.1, "log_q": True}
KS = (5, 10, 20, 50)
FAST = {"train": 4000, "epochs": 1, "every": 1}
STEPS_PER_EXECUTION = 10  # train steps per graph call: the Python overhead of a step is larger than its math


def dataset(x, y, batch, seed=0):
    """Shuffled batches of (x, y)."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((tuple(x), y))
    return data.shuffle(len(y), seed=seed).batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def fit(model, loss, x, y, validate, key, recipe, fast, label):
    """Adam on (x, y), keeping the weights of the best ``validate()[key]``."""
    import keras

    from kerasdl.train import Trainer
    from kerasdl.train.selection import fit_keeping_best

    if fast:
        x, y, recipe = [a[:FAST["train"]] for a in x], y[:FAST["train"]], {**recipe, **FAST}
    trainer = Trainer(model, loss, keras.optimizers.Adam(recipe["lr"]), jit_compile=False, verbose=0,
                      steps_per_execution=STEPS_PER_EXECUTION)
    selected = fit_keeping_best(trainer, dataset(x, y, recipe["batch"]), epochs=recipe["epochs"],
                                every=recipe["every"], validate=validate, key=key, label=f"{label} ")
    trainer.close()
    return {k: selected[k] for k in ("best_epoch", "curve", "train_seconds")}


def predict(model, x):
    return np.asarray(model.predict(tuple(x), batch_size=4096, verbose=0)).reshape(-1)


def params(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# ------------------------------------------------------------------------------ rating
def rating_baselines(train, test):
    """Global mean, user mean, item mean and the damped user + item bias baseline (Koren 2010,
    damping 10 / 25), all falling back to the global mean for unseen ids."""
    mu = float(train.rating.mean())

    n_users, n_items = 943, 1682
    counts_u, counts_i = np.bincount(train.user, minlength=n_users), np.bincount(train.item, minlength=n_items)
    user_mean = np.where(counts_u > 0, np.bincount(train.user, train.rating, n_users) / np.maximum(counts_u, 1), mu)
    item_mean = np.where(counts_i > 0, np.bincount(train.item, train.rating, n_items) / np.maximum(counts_i, 1), mu)
    b_i = np.bincount(train.item, train.rating - mu, n_items) / (counts_i + 25.0)
    b_u = np.bincount(train.user, train.rating - mu - b_i[train.item], n_users) / (counts_u + 10.0)
    return {"global mean": np.full(len(test), mu), "user mean": user_mean[test.user],
            "item mean": item_mean[test.item], "user + item bias": mu + b_u[test.user] + b_i[test.item]}


def rating_part(splits, features, fast, save=lambda partial: None):
    import keras

    from kerasdl import create_model
    from kerasdl.data.movielens_features import MovieLensFeaturizer
    from kerasdl.metrics.ctr import rmse

    results = {}
    for split_name, (train, valid, test) in splits.items():
        featurizer = MovieLensFeaturizer(features, train)
        mu = float(train.rating.mean())
        out = {"baselines": {n: rmse(test.rating, p) for n, p in rating_baselines(train, test).items()}}
        inputs = {"mf": lambda r: (r.user, r.item), "fm": featurizer.encode}
        for name in RATING["models"][split_name]:
            keras.utils.set_random_seed(0)
            extra = {"global_mean": mu} if name == "mf" else {"global_bias": mu, "vocab_size": featurizer.vocab_size}
            model = create_model(name, **RATING[name], **extra)

            def score(ratings, model=model, name=name):
                return rmse(ratings.rating, np.clip(predict(model, inputs[name](ratings)), 1, 5))

            run = fit(model, keras.losses.MeanSquaredError(), inputs[name](train), train.rating[:, None],
                        lambda: {"neg_rmse": -score(valid)}, "neg_rmse", RATING, fast,
                        f"rating/{split_name}/{name}")
            out[name] = {"test_rmse": score(test), "validation_rmse": score(valid), "params": params(model), **run}
            print(f"rating/{split_name}: {name} test RMSE {out[name]['test_rmse']:.4f}", flush=True)
            save({**results, split_name: out})
        results[split_name] = out
    return results


# --------------------------------------------------------------------------------- CTR
def ctr_inputs(name, ratings, rows, featurizer, all_ratings):
    from kerasdl.data.movielens_features import user_histories

    ids, values = featurizer.encode(ratings)
    if name != "din":
        return ids, values
    history = user_histories(all_ratings, rows, CTR["hyper"]["din"]["history_length"], featurizer.item_ids)
    return ids, values, history, featurizer.item_ids(ratings.item)


def ctr_scores(labels, probabilities, users):
    from kerasdl.metrics.ctr import auc_and_log_loss, gauc

    return {**auc_and_log_loss(labels, probabilities), "gauc": gauc(users, labels, probabilities)["gauc"]}


def popularity_ctr(train, ratings, prior=10.0):
    """The item's training like-rate, shrunk to the global rate with ``prior`` pseudo-ratings."""
    from kerasdl.data.movielens_features import ctr_label

    y, rate = ctr_label(train), ctr_label(train).mean()
    likes, counts = np.bincount(train.item, y, 1682), np.bincount(train.item, minlength=1682)
    return ((likes + prior * rate) / (counts + prior))[ratings.item]


def ctr_part(data, names, fast, save=lambda partial: None):
    import keras

    from kerasdl import create_model
    from kerasdl.data.movielens_features import MovieLensFeaturizer, ctr_label

    (train, valid, test), rows, features, all_ratings = data
    featurizer = MovieLensFeaturizer(features, train)
    labels = {s: ctr_label(r) for s, r in zip(("train", "validation", "test"), (train, valid, test))}
    results = {"popularity": {"params": 0, "test": ctr_scores(labels["test"], popularity_ctr(train, test), test.user),
                              "validation": ctr_scores(labels["validation"], popularity_ctr(train, valid), valid.user)}}
    print(f"ctr: popularity test {results['popularity']['test']}", flush=True)
    models = {}
    for name in names:
        keras.utils.set_random_seed(0)
        hyper = {**CTR["hyper"].get(name, {}), "vocab_size": featurizer.vocab_size}
        if name == "din":
            hyper["num_items"] = featurizer.num_item_ids
        model = models[name] = create_model(name, **hyper)
        x = {s: ctr_inputs(name, r, rows[s], featurizer, all_ratings)
             for s, r in zip(("train", "validation", "test"), (train, valid, test))}

        def evaluate(split, model=model, x=x, users={"validation": valid.user, "test": test.user}):
            probabilities = 1 / (1 + np.exp(-predict(model, x[split])))
            return ctr_scores(labels[split], probabilities, users[split])

        run = fit(model, keras.losses.BinaryCrossentropy(from_logits=True), x["train"],
                    labels["train"][:, None], lambda: evaluate("validation"), "auc", CTR, fast, f"ctr/{name}")
        results[name] = {"params": params(model), "test": evaluate("test"),
                         "validation": evaluate("validation"), **run}
        print(f"ctr: {name} test {results[name]['test']}", flush=True)
        save(results)  # each model's numbers on disk as soon as they exist
    return results, models, featurizer


# --------------------------------------------------------------------------- retrieval
def retrieval_part(data, fast):
    import keras

    from kerasdl import create_model
    from kerasdl.data.movielens_features import MovieLensFeaturizer
    from kerasdl.metrics.ranking import recommendation_metrics, top_k_items
    from kerasdl.models.recommender.two_tower import InBatchSoftmaxLoss, retrieve

    (train, valid, test), _, features, _ = data
    featurizer = MovieLensFeaturizer(features, train)
    items_of = {n: [np.flatnonzero(np.bincount(r.item[r.user == u], minlength=1682)) for u in range(943)]
                for n, r in (("train", train), ("validation", valid), ("test", test))}
    seen_at_test = [np.union1d(a, b) for a, b in zip(items_of["train"], items_of["validation"])]
    curve_ks = tuple(range(1, 51))
    keras.utils.set_random_seed(0)
    model = create_model("two_tower", vocab_size=featurizer.vocab_size, temperature=RETRIEVAL["temperature"])
    user_tower, item_tower = model.get_layer("user_tower"), model.get_layer("item_tower")

    def top(k, exclude):
        u = user_tower.predict((featurizer.users.ids, featurizer.users.values), verbose=0, batch_size=1024)
        v = item_tower.predict((featurizer.items.ids, featurizer.items.values), verbose=0, batch_size=2048)
        return retrieve(u, v, exclude, k)

    x = (featurizer.users.ids[train.user], featurizer.users.values[train.user],
         featurizer.items.ids[train.item], featurizer.items.values[train.item])
    batch = RETRIEVAL["batch"] if not fast else 256
    recipe = {**RETRIEVAL, "batch": batch}
    counts = np.bincount(train.item, minlength=1682)
    log_q = np.log(counts / counts.sum())[train.item].astype(np.float32) if RETRIEVAL["log_q"] \
        else np.zeros(len(train), np.float32)
    run = fit(model, InBatchSoftmaxLoss(), x, log_q,
                lambda: recommendation_metrics(top(max(KS), items_of["train"]), items_of["validation"], KS),
                "ndcg@10", recipe, fast, "retrieval/two_tower")
    ranked = top(50, seen_at_test)
    popularity = np.tile(np.bincount(train.item, minlength=1682).astype(float), (943, 1))
    popular = top_k_items(popularity, seen_at_test, 50)
    results = {"two_tower": {"params": params(model), **run,
                             "test": recommendation_metrics(ranked, items_of["test"], KS),
                             "recall_curve": recall_curve(ranked, items_of["test"], curve_ks)},
               "popularity": {"test": recommendation_metrics(popular, items_of["test"], KS),
                              "recall_curve": recall_curve(popular, items_of["test"], curve_ks)}}
    for name, r in results.items():
        print(f"retrieval: {name} test " + ", ".join(f"{k} {v:.4f}" for k, v in r["test"].items()), flush=True)
    return results


def recall_curve(top, relevant, ks):
    from kerasdl.metrics.ranking import recommendation_metrics

    metrics = recommendation_metrics(top, relevant, ks)
    return [metrics[f"recall@{k}"] for k in ks]


# ----------------------------------------------------------------------------- bidding
def bidding_part(model, featurizer, data, fast):
    """Budget-paced second-price bidding on the test impressions in time order, valuing a click at
    1: the CTR model's and the popularity baseline's predictions (kerasdl.models.recommender.bidding)."""
    from kerasdl.data.movielens_features import ctr_label
    from kerasdl.models.recommender.bidding import market_prices, simulate

    (train, _, test), rows, _, all_ratings = data
    order = np.argsort(test.timestamp, kind="stable")
    clicks = ctr_label(test)[order]
    x = ctr_inputs(model.name if model.name == "din" else "", test, rows["test"], featurizer, all_ratings)
    predicted = {"model": 1 / (1 + np.exp(-predict(model, x)))[order],
                 "popularity": popularity_ctr(train, test)[order], "constant": np.full(len(test), clicks.mean())}
    prices = market_prices(len(test), seed=0)
    budget = 0.05 * prices.sum()  # enough to buy about 1 impression in 20 at market prices
    out = {"budget": float(budget), "impressions": len(test)}
    for name, p in predicted.items():
        for pacing in (False, True):
            out[f"{name}{' paced' if pacing else ''}"] = simulate(p, clicks, prices, budget, pacing=pacing)
    for name, r in out.items():
        if isinstance(r, dict):
            print(f"bidding: {name}: clicks {r['clicks']:.0f}, spend {r['spend']:.1f}, "
                  f"budget exhausted at {r['exhausted_at']:.2f} of the day", flush=True)
    return out


# -------------------------------------------------------------------------------- main
def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerasdl.io import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.9))
    if "ctr" in results:
        ctr = results["ctr"]
        ax = axes[0]
        for name, r in ctr.items():
            if name != "popularity":
                ax.scatter(r["params"], r["test"]["auc"])
                ax.annotate(name, (r["params"], r["test"]["auc"]), fontsize=8, xytext=(3, 3),
                            textcoords="offset points")
        ax.axhline(ctr["popularity"]["test"]["auc"], color="gray", ls="--", label="item popularity")
        ax.set_xscale("log")
        ax.set_xlabel("trainable parameters")
        ax.set_ylabel("test AUC (like = rating >= 4)")
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
    if "retrieval" in results:
        ax = axes[1]
        for name, r in results["retrieval"].items():
            ax.plot(np.arange(1, 51), r["recall_curve"], label=name.replace("_", "-"))
        ax.set_xlabel("k (recommended items)")
        ax.set_ylabel("test recall@k")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle("MovieLens-100k, per-user time-ordered test split", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def load(fast):
    from kerasdl.data.movielens import Ratings, movielens_100k, movielens_100k_features, _load
    from kerasdl.data.movielens_features import random_split

    all_ratings, features, rows = movielens_100k("all"), movielens_100k_features(), dict(_load()[2])

    def subset(idx):
        return Ratings(*(a[idx] for a in (all_ratings.user, all_ratings.item, all_ratings.rating,
                                          all_ratings.timestamp)))

    time_split = tuple(subset(rows[s]) for s in ("train", "validation", "test"))
    random_rows = random_split(len(all_ratings))
    random = tuple(subset(random_rows[s]) for s in ("train", "validation", "test"))
    return (time_split, rows, features, all_ratings), {"time-ordered": time_split, "random": random}


def merge(folders, out):
    """One metrics.json + plot from partial runs (``--tag``): their parts' results side by side,
    the CTR models of several runs pooled (a later run's model replaces an earlier one's)."""
    import json

    merged = {"runs": {}}
    for folder in folders:
        run = json.loads((Path(folder) / "metrics.json").read_text())
        merged["runs"][str(folder)] = run.pop("wall_seconds", None)
        for part, value in run.items():
            if isinstance(value, dict) and isinstance(merged.get(part), dict):
                merged[part].update(value)
            else:
                merged[part] = value
    out.mkdir(parents=True, exist_ok=True)
    plot(merged, out / "recommender.png")
    atomic_write_json(out / "metrics.json", merged)
    print(f"merged {len(folders)} runs into {out}")
    return merged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)}")
    parser.add_argument("--models", default=",".join(CTR_MODELS), help="CTR models (comma list)")
    parser.add_argument("--export", default="deepfm", help="CTR model to export to TFLite ('' for none; only with the ctr part)")
    parser.add_argument("--fast", action="store_true", help="a few hundred steps (CI smoke run)")
    parser.add_argument("--out-dir", default="saved_models")
    parser.add_argument("--tag", default="", help="suffix of the output folder (parallel partial runs)")
    parser.add_argument("--merge", nargs="+", metavar="FOLDER",
                        help="only merge these runs' metrics.json into <out-dir>/recommender/")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, Path(args.out_dir) / "recommender")
    parts = choose(parser, "--parts", args.parts, PARTS)
    names = choose(parser, "--models", args.models, CTR_MODELS)
    if "bidding" in parts and "ctr" not in parts:
        parser.error("--parts bidding needs the ctr part (it bids with a trained CTR model)")
    if "ctr" not in parts:
        args.export = ""  # the export is of a CTR model
    if args.export and args.export not in names:
        parser.error(f"--export {args.export} is not among --models")
    start = time.perf_counter()
    suffix = "_fast" if args.fast else ""
    subset = "" if set(parts) == set(PARTS) else "_" + "_".join(parts)  # a partial run: own folder
    out = Path(args.out_dir) / f"recommender{subset}{args.tag}{suffix}"
    out.mkdir(parents=True, exist_ok=True)
    data, splits = load(args.fast)
    results = {}
    if "rating" in parts:
        results["rating"] = rating_part(
            splits, data[2], args.fast, lambda partial: atomic_write_json(out / "metrics.json", {"rating": partial}))
    if "ctr" in parts:
        results["ctr"], models, featurizer = ctr_part(
            data, names, args.fast, lambda partial: atomic_write_json(out / "metrics.json", {**results, "ctr": partial}))
        if "bidding" in parts:
            results["bidding"] = bidding_part(models[args.export or names[0]], featurizer, data, args.fast)
        if args.export:
            from kerasdl.export.multi_input import export_multi_input_model

            model = models[args.export]
            x = ctr_inputs(args.export, data[0][2], data[1]["test"], featurizer, data[3])
            meta = export_multi_input_model(model, f"recommender_{args.export}{suffix}",
                                            tuple(a[:256] for a in x), out_dir=args.out_dir,
                                            metrics={"test_auc": results["ctr"][args.export]["test"]["auc"]},
                                            latency_runs=10 if args.fast else 50)
            results["export"] = {k: meta["modes"]["fp32"][k] for k in ("size_bytes", "latency")} | \
                {"max_abs_error": meta["modes"]["fp32"]["parity"]["max_abs_error"]}
    if "retrieval" in parts:
        results["retrieval"] = retrieval_part(data, args.fast)
    plot(results, out / "recommender.png")
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    atomic_write_json(out / "metrics.json", results)
    print(f"wrote {out} in {results['wall_seconds']} s")
    return results


if __name__ == "__main__":
    main()
