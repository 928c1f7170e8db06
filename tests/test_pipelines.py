"""Pipelines run end to end in their --fast mode (train -> evaluate -> export -> verify)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fashion_mnist_pipeline_fast(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / "fashion_mnist_classifier.py"), "--fast",
                    "--out-dir", str(tmp_path)], check=True, capture_output=True, text=True)
    run = tmp_path / "fashion_mnist_simple_cnn_fast"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["tflite"]["fp32"]["max_abs_error"] <= 1e-4
    assert summary["tflite"]["int8"]["size_ratio_vs_fp32"] < 0.35
    assert summary["test_accuracy"] > 0.3  # 50 steps on real data (seen 0.49-0.55); chance 0.1
    for name in ("model.keras", "saved_model", "fashion_mnist_simple_cnn_fast_fp32.tflite",
                 "fashion_mnist_simple_cnn_fast_int8.tflite", "metadata.json", "logs/curves.png"):
        assert (run / name).exists(), name


def test_cnn_zoo_pipeline_fast(tmp_path):
    script = str(ROOT / "pipelines" / "cnn_zoo.py")
    done = subprocess.run([sys.executable, script, "--fast", "--models", "lenet5", "--out-dir",
                           str(tmp_path)], check=True, capture_output=True, text=True)
    rows = json.loads((tmp_path / "cnn_zoo_fast" / "results.json").read_text())
    row = rows["lenet5"]
    assert f"| lenet5 | 1 | {row['epochs']} | 61,706 | 0.8 |" in done.stdout  # the README table
    assert row["params"] == 61_706  # 28x28 form pads C1 (as d2l does): LeNet-5's own count
    assert row["test_accuracy"] > 0.3 and row["int8_accuracy"] > 0.3  # chance is 0.1
    assert (tmp_path / "cnn_zoo_fast" / "zoo.png").stat().st_size > 10_000
    assert (tmp_path / "cnn_zoo_lenet5_fast" / "cnn_zoo_lenet5_fast_int8.tflite").exists()
    bad = subprocess.run([sys.executable, script, "--models", "resnet9000"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "--models: unknown resnet9000" in bad.stderr


def test_cnn_zoo_record_keeps_every_row_of_parallel_runs(tmp_path, monkeypatch):
    """Parallel zoo runs merge into one results.json: the lock keeps read-merge-write whole
    (without it, 4 threads x 50 rows kept 135 of 200)."""
    import threading

    monkeypatch.syspath_prepend(str(ROOT / "pipelines"))
    from cnn_zoo import record

    results = tmp_path / "zoo" / "results.json"
    writers = [threading.Thread(target=lambda k=k: [record(results, f"m{k}_{i}", {"i": i})
                                                    for i in range(50)]) for k in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    rows = json.loads(results.read_text())
    assert len(rows) == 200 and rows["m3_49"] == {"i": 49}


def test_every_pipeline_has_help():
    """``--help`` on every recipe: it parses its arguments before any heavy work."""
    for script in sorted((ROOT / "pipelines").glob("*.py")):
        result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0 and "usage:" in result.stdout, (script.name, result.stderr)
