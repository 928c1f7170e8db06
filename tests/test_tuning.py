"""Hyper-parameter search: the space format, its errors, and a KerasTuner search that finds the
better configuration on real digits."""
import json

import pytest

kt = pytest.importorskip("keras_tuner")  # the `tuning` extra

from kerasdl.automl.search_space import SearchSpace, SearchSpaceError
from kerasdl.automl.tuning import TuningRecipe, best_trials_table, tune
from kerasdl.cli import main


def test_space_forms_define_keras_tuner_hyperparameters():
    space = SearchSpace({"learning_rate": {"float": [1e-4, 1e-2], "log": True},
                         "batch_size": [32, 64],
                         "model.hidden_units": {"choice": [[16], [32, 16]]},
                         "model.dropout": {"float": [0.0, 0.5], "step": 0.25},
                         "optimizer": "sgd"}, "mlp")
    hp = kt.HyperParameters()
    values = space.define(hp)
    assert values["model.hidden_units"] == [16]  # a list choice travels as JSON, decoded here
    assert hp.values["model.hidden_units"] == "[16]"
    assert space.decode(hp.values) == values
    assert 1e-4 <= values["learning_rate"] <= 1e-2 and values["optimizer"] == "sgd"
    assert hp.get_config()["space"][0]["config"]["sampling"] == "log"
    model_kwargs, settings = SearchSpace.split(values)
    assert set(model_kwargs) == {"hidden_units", "dropout"}
    assert set(settings) == {"learning_rate", "batch_size", "optimizer"}


@pytest.mark.parametrize("spec, message", [
    ({"learning_rat": [1e-3, 1e-2]}, "unknown hyperparameter 'learning_rat'"),
    ({"batch_size": []}, "the choice list is empty"),
    ({"batch_size": {"choice": []}}, "the choice list is empty"),
    ({"model.units": [8, 16]}, "mlp has no argument 'units'; its arguments: hidden_units"),
    ({"model.num_classes": [2, 3]}, "set by the dataset"),
    ({"learning_rate": {"float": [1e-2, 1e-3]}}, "must be below high"),
    ({"learning_rate": {"float": [0.0, 1e-2], "log": True}}, "needs low > 0"),
    ({"model.hidden_units": {"int": [8, 16], "scale": "log"}}, "got keys ['int', 'scale']"),
    ({"optimizer": ["adam", "lion"]}, "choose among adam, adamw, sgd, rmsprop"),
    ({"batch_size": 64}, "searches nothing"),
    ("{not json", "not valid JSON"),
])
def test_bad_space_fails_clearly(spec, message):
    with pytest.raises(SearchSpaceError) as err:
        SearchSpace(spec, "mlp")
    assert message in str(err.value)


def test_grid_search_improves_over_its_first_trial(tmp_path):
    """The grid's first point is a learning rate too small to learn in one epoch (its validation
    accuracy stays near chance, 0.1); the search must find the good one and keep its model."""
    results = tune(TuningRecipe(model="mlp", dataset="digits", tuner="grid", trials=2, epochs=2,
                                batch_size=32, fast=True, out_dir=str(tmp_path), name="grid",
                                space={"learning_rate": [1e-6, 1e-2],
                                       "model.hidden_units": [[32]]}))
    first, second = results["trials"]
    assert first["hyperparameters"]["learning_rate"] == 1e-6
    assert results["best"]["trial_id"] == second["trial_id"]
    assert results["best"]["score"] > first["score"] + 0.3, results["trials"]
    assert results["best_test_accuracy"] > 0.5  # the kept best model, on the held-out test split
    saved = json.loads((tmp_path / "grid" / "results.json").read_text())
    assert saved["best"]["hyperparameters"] == {"learning_rate": 1e-2, "model.hidden_units": [32]}
    table = (tmp_path / "grid" / "best_trials.md").read_text()
    assert table.splitlines()[2].startswith(f"| 1 | {second['trial_id']} |")
    assert (tmp_path / "grid" / "progress.png").stat().st_size > 5_000


def test_best_trials_table_orders_by_direction():
    rows = [{"trial_id": str(i), "score": s, "epochs": 3, "initial_epoch": i % 2, "seconds": 1.0,
             "hyperparameters": {"lr": i}} for i, s in enumerate([0.5, 0.2, None, 0.9])]
    maximise = best_trials_table(rows, "max").splitlines()[2:]
    minimise = best_trials_table(rows, "min").splitlines()[2:]
    assert [line.split("|")[2].strip() for line in maximise] == ["3", "0", "1"]
    assert [line.split("|")[2].strip() for line in minimise] == ["1", "0", "3"]
    # epochs trained: a Hyperband trial resumed from epoch 1 of 3 trained 2
    assert [line.split("|")[4].strip() for line in maximise] == ["2", "3", "2"]


def test_cli_tune_hyperband_and_bad_space(tmp_path, capsys):
    space = json.dumps({"learning_rate": {"float": [1e-3, 3e-2], "log": True}})
    argv = ["tune", "--model", "mlp", "--model-kwargs", '{"hidden_units": [16]}', "--dataset",
            "digits", "--tuner", "hyperband", "--space", space, "--trials", "3", "--epochs", "3",
            "--fast", "--out-dir", str(tmp_path), "--name", "hb"]
    assert main(argv) == 0
    results = json.loads((tmp_path / "hb" / "results.json").read_text())
    assert results["tuner"] == "hyperband" and results["trials_run"] == 3  # a full Hyperband(3, 3) runs 6
    assert all(1e-3 <= t["hyperparameters"]["learning_rate"] <= 3e-2 for t in results["trials"])
    assert "| rank | trial | score |" in capsys.readouterr().out
    assert main([*argv[:-2], "--space", '{"model.width": [1, 2]}', "--name", "bad"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kerasdl: error:") and "mlp has no argument 'width'" in err


def test_recipe_rejects_bad_counts():
    with pytest.raises(ValueError, match="unknown tuner 'annealing'"):
        TuningRecipe(tuner="annealing")
    with pytest.raises(ValueError, match="trials and epochs must be >= 1"):
        TuningRecipe(trials=0)
    with pytest.raises(ValueError, match="initial_points must be >= 1"):
        TuningRecipe(tuner="bayesian", initial_points=0)
