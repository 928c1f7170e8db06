"""The `kerasdl` command: help everywhere, listing, clear errors, and train -> eval -> export."""
import json

import pytest

from kerasdl.cli import build_parser, main

COMMANDS = [[], ["train"], ["eval"], ["export"], ["tune"], ["data"], ["data", "fetch"], ["models"],
            ["models", "info"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "kerasdl")
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: kerasdl" in capsys.readouterr().out


def test_models_and_data_listing(capsys):
    assert main(["models", "list"]) == 0
    assert "simple_cnn" in capsys.readouterr().out
    assert main(["models", "info", "mlp", "--model-kwargs", '{"hidden_units": [8]}']) == 0
    assert '"params": 6370' in capsys.readouterr().out  # 784*8+8 + 8*10+10
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist" in out and "mnist10k" in out and "digits" in out


@pytest.mark.parametrize("argv, message", [
    (["models", "info", "resnet5O"], "Unknown model"),
    (["data", "fetch", "fashion"], "fashion_mnist"),
    (["train", "--dataset", "cifar10", "--fast"], "Unknown dataset"),
    (["eval", "/nonexistent/model.keras"], "cannot load a Keras model"),
])
def test_errors_are_clear(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kerasdl: error:") and message in err


def test_train_eval_export_round_trip(tmp_path, capsys):
    common = ["--dataset", "digits"]
    assert main(["train", *common, "--model", "mlp", "--fast", "--jit", "off", "--export-modes", "",
                 "--out-dir", str(tmp_path), "--name", "run"]) == 0
    trained = json.loads((tmp_path / "run" / "train_report.json").read_text())
    assert trained["policy"]["jit_compile"] is False
    assert trained["test_accuracy"] > 0.3  # 20 MLP steps on real digits: far above chance (0.1)
    capsys.readouterr()

    model_path = str(tmp_path / "run" / "model.keras")
    assert main(["eval", model_path, *common]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["examples"] == 360
    assert evaluated["accuracy"] == pytest.approx(trained["test_accuracy"], abs=1e-6)

    assert main(["export", model_path, *common, "--name", "exported", "--modes", "fp32,dynamic",
                 "--out-dir", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / "exported" / "metadata.json").read_text())
    assert meta["modes"]["fp32"]["parity"]["max_abs_error"] <= 1e-4
    assert (tmp_path / "exported" / "exported_dynamic.tflite").stat().st_size > 0
