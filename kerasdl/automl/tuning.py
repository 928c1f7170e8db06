"""Hyper-parameter search over any registered classifier and dataset with KerasTuner.

Grid search walks the whole grid of the space, random search draws points from its ranges (not
only grid points, as the curriculum's 随机在网格内取点 has it), Bayesian optimisation fits a
Gaussian process to the trials so far and proposes the point its acquisition function (upper
confidence bound) rates highest — a surrogate model, not the EM-like resampling the curriculum
compares it to — and Hyperband runs successive halving (many configurations for a few epochs,
the best ones for longer). KerasTuner's ``GridSearch``, ``RandomSearch``, ``BayesianOptimization``
and ``Hyperband`` do the searching; this module supplies the space (:mod:`search_space`), the
training inside each trial and the results.

Each trial trains with plain ``compile()/fit()`` on the kerasdl data pipeline
(``kerasdl.data.pipelines.from_arrays``), kerasdl's classification loss and a Keras optimizer,
not with the kerasdl ``Trainer``: KerasTuner drives a trial through Keras callbacks — its
per-epoch objective reports, the best-epoch checkpoint that Hyperband's later rounds resume
from, early stopping — and those are ``fit``'s. The learning rate is constant within a trial
(Hyperband's rounds continue a trial for more epochs, which a fixed-length decay would not
allow).

Writes ``<run_dir>/results.json`` (every trial, the best, the search time, the test accuracy of
the best trial's best epoch), ``best_trials.md`` (a table) and ``progress.png`` (best objective so
far vs trials and time), atomically; KerasTuner's own files go to ``<run_dir>/keras_tuner/``.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from kerasdl.automl.search_space import RECIPE_KEYS, SearchSpace
from kerasdl.io import atomic_write_json, atomic_write_text
from kerasdl.tables import markdown_table

TUNERS = ("grid", "random", "bayesian", "hyperband")


@dataclasses.dataclass
class TuningRecipe:
    """What to search and how each trial trains; settings the space leaves out keep these values."""

    model: str = "simple_cnn"
    dataset: str = "fashion_mnist"
    space: object = None  # dict, JSON text or .json path (see kerasdl.automl.search_space)
    tuner: str = "random"
    trials: int = 10
    epochs: int = 3  # per trial; Hyperband's max_epochs
    objective: str = "val_accuracy"
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    learning_rate: float = 2e-3
    optimizer: str = "adamw"
    batch_size: int = 128
    weight_decay: float = 1e-4  # adamw and sgd (decoupled)
    label_smoothing: float = 0.0
    validation_examples: int = 5000  # held out from the training split
    train_examples: int | None = None  # the first N of the rest (None: all)
    hyperband_factor: int = 3
    initial_points: int | None = None  # Bayesian: random trials first (None: max(2, trials // 3))
    jit_compile: bool = False  # XLA makes conv steps slower on this CPU (see the README)
    seed: int = 0
    fast: bool = False  # data subsets (2,048 train / 512 validation / 1,000 test)
    out_dir: str = "saved_models"
    name: str | None = None
    resume: bool = False  # continue KerasTuner's project instead of starting afresh
    verbose: int = 0

    def __post_init__(self):
        if self.tuner not in TUNERS:
            raise ValueError(f"unknown tuner {self.tuner!r}; choose from {', '.join(TUNERS)}")
        if int(self.trials) < 1 or int(self.epochs) < 1:
            raise ValueError(f"trials and epochs must be >= 1, got {self.trials} and {self.epochs}")
        if self.initial_points is not None and int(self.initial_points) < 1:
            raise ValueError(f"initial_points must be >= 1 (or None), got {self.initial_points}")

    @property
    def run_dir(self) -> Path:
        name = self.name or (f"tune_{self.dataset}_{self.model}_{self.tuner}"
                             + ("_fast" if self.fast else ""))
        return Path(self.out_dir) / name

    @property
    def direction(self) -> str:
        return "max" if "acc" in self.objective else "min"


def make_optimizer(name: str, learning_rate: float, weight_decay: float):
    import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True,
                                    weight_decay=weight_decay)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}")


def _hypermodel_class():
    import keras_tuner as kt

    class ClassifierHyperModel(kt.HyperModel):
        """Builds the registered model from a trial's values and fits it on the splits."""

        def __init__(self, recipe: TuningRecipe, space: SearchSpace, splits, info):
            super().__init__(name=f"{recipe.model}_hypermodel")
            self.recipe, self.space, self.splits, self.info = recipe, space, splits, info

        def settings(self, values: dict) -> dict:
            defaults = {key: getattr(self.recipe, key) for key in RECIPE_KEYS}
            return {**defaults, **self.space.split(values)[1]}

        def build(self, hp):
            import keras

            from kerasdl.losses import classification_loss
            from kerasdl.registry import create_model

            values = self.space.define(hp)
            settings = self.settings(values)
            model = create_model(self.recipe.model, num_classes=self.info["num_classes"],
                                 input_shape=self.info["image_shape"],
                                 **{**self.recipe.model_kwargs, **self.space.split(values)[0]})
            model.compile(
                make_optimizer(settings["optimizer"], settings["learning_rate"],
                               settings["weight_decay"]),
                classification_loss(settings["label_smoothing"]),
                metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                jit_compile=self.recipe.jit_compile)
            return model

        def fit(self, hp, model, *args, **kwargs):
            from kerasdl.data.pipelines import from_arrays

            batch = int(self.settings(self.space.decode(hp.values))["batch_size"])
            (x, y), (x_val, y_val), _ = self.splits
            train = from_arrays(x, y, batch, training=True, seed=self.recipe.seed)
            val = from_arrays(x_val, y_val, 512, training=False)
            return model.fit(train, *args, validation_data=val, **kwargs)

    return ClassifierHyperModel


class _TimedTrials:
    """Mixed into a KerasTuner tuner: wall seconds of each trial, by trial id."""

    def run_trial(self, trial, *args, **kwargs):
        start = time.perf_counter()
        try:
            return super().run_trial(trial, *args, **kwargs)
        finally:
            self.trial_seconds[trial.trial_id] = round(time.perf_counter() - start, 2)


def make_tuner(recipe: TuningRecipe, hypermodel):
    """The KerasTuner tuner named by ``recipe.tuner``, writing under ``run_dir/keras_tuner``."""
    import keras_tuner as kt

    base = {"grid": kt.GridSearch, "random": kt.RandomSearch,
            "bayesian": kt.BayesianOptimization, "hyperband": kt.Hyperband}[recipe.tuner]
    common = dict(objective=kt.Objective(recipe.objective, recipe.direction),
                  directory=str(recipe.run_dir), project_name="keras_tuner",
                  overwrite=not recipe.resume, seed=recipe.seed)
    if recipe.tuner == "hyperband":
        common.update(max_epochs=recipe.epochs, factor=recipe.hyperband_factor)
    elif recipe.tuner == "bayesian":
        # KerasTuner's default (3 random trials per hyperparameter) makes short searches random.
        common.update(max_trials=recipe.trials,
                      num_initial_points=(max(2, recipe.trials // 3) if recipe.initial_points is None
                                          else recipe.initial_points))
    else:
        common.update(max_trials=recipe.trials)
    tuner = type(f"Timed{base.__name__}", (_TimedTrials, base), {})(hypermodel, **common)
    tuner.trial_seconds = {}
    if recipe.tuner == "hyperband":
        tuner.oracle.max_trials = recipe.trials  # Hyperband's brackets are cut at this many
    return tuner


def trial_rows(tuner, space: SearchSpace, recipe: TuningRecipe) -> list[dict]:
    """One row per trial in the order they ran."""
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items(), key=lambda kv: int(kv[0])):
        values = trial.hyperparameters.values
        rows.append({"trial_id": trial_id, "status": trial.status, "score": trial.score,
                     "best_epoch": None if trial.best_step is None else trial.best_step + 1,
                     "epochs": values.get("tuner/epochs", recipe.epochs),
                     "initial_epoch": values.get("tuner/initial_epoch", 0),  # Hyperband resumes
                     "seconds": tuner.trial_seconds.get(trial_id),
                     "hyperparameters": space.decode(values)})
    return rows


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def best_trials_table(rows: list[dict], direction: str, top: int = 10) -> str:
    """A Markdown table of the ``top`` completed trials, best first."""
    done = [r for r in rows if r["score"] is not None]
    done.sort(key=lambda r: r["score"], reverse=direction == "max")
    names = sorted({k for r in done for k in r["hyperparameters"]})
    body = [[rank, r["trial_id"], f"{r['score']:.4f}", r["epochs"] - r["initial_epoch"], r["seconds"],
             *(_cell(r["hyperparameters"].get(n, "")) for n in names)]
            for rank, r in enumerate(done[:top], 1)]
    return markdown_table(["rank", "trial", "score", "epochs trained", "seconds", *names], body) + "\n"


def _test_accuracy(tuner, splits) -> float:
    from kerasdl.data.pipelines import from_arrays

    _, _, (x_test, y_test) = splits
    model = tuner.get_best_models(1)[0]  # the best trial's best-epoch checkpoint
    return float(model.evaluate(from_arrays(x_test, y_test, 512, training=False), verbose=0,
                                return_dict=True)["accuracy"])


def tune(recipe: TuningRecipe) -> dict:
    """Run the search; write and return the results (see the module docstring)."""
    import keras

    from kerasdl.automl.progress import best_so_far, plot_search_progress
    from kerasdl.data.datasets import dataset_info
    from kerasdl.train.classification import ClassifierRecipe, load_splits

    space = recipe.space if isinstance(recipe.space, SearchSpace) else \
        SearchSpace(recipe.space, recipe.model)
    info = dataset_info(recipe.dataset)
    (x, y), val, test = load_splits(ClassifierRecipe(
        dataset=recipe.dataset, seed=recipe.seed, validation_examples=recipe.validation_examples,
        fast=recipe.fast))
    splits = (x[:recipe.train_examples], y[:recipe.train_examples]), val, test
    keras.utils.set_random_seed(recipe.seed)
    tuner = make_tuner(recipe, _hypermodel_class()(recipe, space, splits, info))
    start = time.perf_counter()
    tuner.search(epochs=recipe.epochs, verbose=recipe.verbose)
    seconds = round(time.perf_counter() - start, 1)
    rows = trial_rows(tuner, space, recipe)
    done = [r for r in rows if r["score"] is not None]
    if not done:
        raise RuntimeError(f"no trial completed; see {recipe.run_dir / 'keras_tuner'}")
    best = (max if recipe.direction == "max" else min)(done, key=lambda r: r["score"])
    results = {
        "model": recipe.model, "dataset": recipe.dataset, "tuner": recipe.tuner,
        "objective": recipe.objective, "direction": recipe.direction,
        "train_examples": len(splits[0][0]), "validation_examples": len(splits[1][0]),
        "test_examples": len(splits[2][0]), "epochs": recipe.epochs, "space": space.to_dict(),
        "search_seconds": seconds, "trials_run": len(rows), "trials_completed": len(done),
        "best": best, "best_test_accuracy": _test_accuracy(tuner, splits), "trials": rows,
    }
    out = recipe.run_dir
    atomic_write_json(out / "results.json", results)
    atomic_write_text(out / "best_trials.md", best_trials_table(rows, recipe.direction))
    progress = best_so_far([r["score"] for r in done], [r["seconds"] or 0.0 for r in done],
                           recipe.direction)
    plot_search_progress({recipe.tuner: progress}, out / "progress.png",
                         objective=recipe.objective,
                         title=f"{recipe.tuner} search: {recipe.model} on {recipe.dataset}")
    return results
