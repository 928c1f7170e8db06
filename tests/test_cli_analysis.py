"""`kerasdl models info NAME`: the per-layer analysis table, totals, config and --json report."""
import json

from kerasdl.analysis import analyze
from kerasdl.cli import main
from kerasdl.registry import create_model


def test_models_info_writes_the_analysis_json(tmp_path, capsys):
    path = tmp_path / "simple_cnn.json"
    assert main(["models", "info", "simple_cnn", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    expected = analyze(create_model("simple_cnn"))
    saved = json.loads(path.read_text())
    assert saved["totals"] == expected.totals()
    assert [row["name"] for row in saved["layers"]] == [row.name for row in expected.layers]
    assert "stage0_conv0/conv" in out and "MFLOPs" in out and "RF" in out  # the table
    printed = json.loads(out[out.index("\n{") + 1:])  # the totals + config JSON after the table
    assert printed["params"] == expected.params and printed["flops"] == expected.flops
    assert printed["config"]["filters"] == [32, 64, 128]


def test_models_info_no_summary_prints_only_totals_and_config(capsys):
    assert main(["models", "info", "mlp", "--model-kwargs", '{"hidden_units": [8]}',
                 "--no-summary"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["params"] == 6370  # 784*8+8 + 8*10+10
    assert printed["macs"] == 784 * 8 + 8 * 10
    assert printed["config"]["hidden_units"] == [8]
