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
