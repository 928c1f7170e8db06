"""The meta-learning pipelines run end to end in their --fast mode (train -> evaluate -> plot ->
export -> verify). Marked slow: each --fast run costs ~45 s of CPU (three trainings or two, their
tracing, a TFLite export), beyond this change's share of the default suite; run with -m slow."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script, tmp_path, *args):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / script), "--fast", "--out-dir",
                    str(tmp_path), *args], check=True, capture_output=True, text=True)


@pytest.mark.slow
def test_maml_sinusoid_pipeline_fast(tmp_path):
    run("maml_sinusoid.py", tmp_path, "--shots", "5")
    out = tmp_path / "maml_sinusoid_k5_fast"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]) == {"MAML (2nd order)", "FOMAML", "pretrained", "scratch",
                                       "pretrained, tuned α", "scratch, tuned α"}
    for row in metrics["results"].values():
        assert all(math.isfinite(m) and h > 0 for m, h in row["mse"].values())
    assert metrics["tflite_fp32_max_abs_error"] <= 1e-4
    for name in ("adapted_curves.png", "mse_vs_steps.png", "maml_second_order/logs/curves.png",
                 "maml_sinusoid_k5_fast_maml/maml_sinusoid_k5_fast_maml_fp32.tflite"):
        assert (out / name).stat().st_size > 1000, name


@pytest.mark.slow
def test_protonet_digits_pipeline_fast(tmp_path):
    run("protonet_digits.py", tmp_path)
    out = tmp_path / "protonet_digits_fast"
    metrics = json.loads((out / "metrics.json").read_text())
    for shots in ("1-shot", "5-shot"):
        rows = metrics["accuracy"][shots]
        assert {"nearest prototype, ProtoNet conv4", "scratch (pixels)",
                "pre-trained + new head"} <= set(rows)
        assert all(0 <= m <= 1 and h > 0 for m, h in rows.values())
        assert rows["scratch (pixels)"][0] > 0.3  # real digits, chance 0.2
    assert metrics["tflite_fp32_max_abs_error"] <= 1e-4
    for name in ("accuracy.png", "protonet/logs/curves.png",
                 "protonet_digits_fast_conv4/protonet_digits_fast_conv4_fp32.tflite"):
        assert (out / name).stat().st_size > 1000, name
