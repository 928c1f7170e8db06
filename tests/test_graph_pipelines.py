"""The graph pipelines end to end in --fast mode (train -> evaluate -> export -> verify)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "pipelines" / script), *args],
                          capture_output=True, text=True)


def test_node_classification_pipeline_fast(tmp_path):
    done = run("node_classification.py", "--fast", "--datasets", "karate_club", "--models", "gcn",
               "mlp", "--out-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "node_classification_fast" / "results.json").read_text())
    rows = summary["results"]["karate_club"]
    assert set(rows) == {"gcn", "mlp", "exported"} and summary["seeds"] == 2
    assert all(len(rows[m]["accuracies"]) == 2 and 0 <= rows[m]["accuracy_mean"] <= 1 for m in ("gcn", "mlp"))
    assert rows["gcn"]["beats_mlp"] == (rows["gcn"]["accuracy_mean"] > rows["mlp"]["accuracy_mean"])
    assert rows["exported"]["model"] == "gcn" and rows["exported"]["tflite_max_abs_error"] <= 1e-4
    assert (tmp_path / "node_classification_fast" / "karate_embedding.png").stat().st_size > 10_000
    package = tmp_path / "node_classification_karate_club_fast"
    meta = json.loads((package / "metadata.json").read_text())
    assert set(meta["inputs"]) == {"node_features", "edges"}
    assert "UNSORTED_SEGMENT_SUM" in meta["modes"]["fp32"]["ops"]
    for name in ("model.keras", "saved_model", "node_classification_karate_club_fast_fp32.tflite"):
        assert (package / name).exists(), name
    bad = run("node_classification.py", "--models", "gcn")
    assert bad.returncode == 2 and "must include the mlp baseline" in bad.stderr


@pytest.mark.slow  # ~25 s on an idle machine (two models traced, GIN exported); -m slow runs it
def test_graph_classification_pipeline_fast(tmp_path):
    done = run("graph_classification.py", "--fast", "--out-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "graph_classification_fast" / "results.json").read_text())
    results = summary["results"]
    assert summary["folds"] == 2 and all(len(results[m]["fold_accuracies"]) == 2
                                         for m in ("gin", "mlp_counts"))
    assert results["mlp_counts"]["accuracy_mean"] > 0.6  # counts alone are informative (seen 0.84)
    exported = results["exported"]
    assert exported["tflite_max_abs_error"] <= 1e-4
    assert abs(exported["tflite_accuracy"] - results["gin"]["fold_accuracies"][-1]) < 1e-6
    assert (tmp_path / "graph_classification_fast" / "cv_accuracy.png").stat().st_size > 10_000
    assert (tmp_path / "graph_classification_mutag_fast" / "graph_classification_mutag_fast_fp32.tflite").exists()
    bad = run("graph_classification.py", "--epochs", "15")
    assert bad.returncode == 2 and "a multiple of 10" in bad.stderr
