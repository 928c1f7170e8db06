"""The benchmarks run end to end at tiny sizes and report consistent numbers (slow: they train).

Speed itself is never asserted: benchmarks measure it; these check that each script works and
that what it prints is self-consistent (ratios are the ratios of the reported rates, FLOP counts
follow their stated formula)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run_benchmark(script, tmp_path, *args) -> dict:
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args, "--json", str(out)],
                   check=True, cwd=ROOT, capture_output=True, text=True, timeout=900)
    return json.loads(out.read_text())


def test_train_step_reports_rates_and_their_ratio(tmp_path):
    (row,) = run_benchmark("train_step.py", tmp_path, "--models", "mlp", "--batch", "32",
                           "--steps", "8", "--repeats", "1")
    rates = row["images_per_s"]
    assert set(rates) >= {"kerasdl", "keras", "steps_per_execution 1"}
    assert all(rate > 0 for rate in rates.values())
    assert row["ratio"] == pytest.approx(rates["kerasdl"] / rates["keras"], rel=1e-2)


def test_mfu_divides_achieved_flops_by_the_measured_peak(tmp_path):
    import kerasdl
    from kerasdl.analysis import analyze

    result = run_benchmark("mfu.py", tmp_path, "--models", "simple_cnn", "--batch", "16",
                           "--steps", "4", "--repeats", "1", "--matmul-sizes", "256")
    (row,) = result["rows"]
    macs = analyze(kerasdl.create_model("simple_cnn")).macs
    assert row["train_gflop_per_image"] == pytest.approx(6 * macs / 1e9)
    assert row["mfu"] == pytest.approx(row["achieved_gflop_per_s"] / row["peak_gflop_per_s"])
    assert row["achieved_gflop_per_s"] == pytest.approx(
        row["images_per_s"] * row["train_gflop_per_image"])


def test_input_pipeline_headroom_is_delivery_over_consumption(tmp_path):
    result = run_benchmark("input_pipeline.py", tmp_path, "--pipelines", "fashion_mnist",
                           "--batches", "4", "--steps", "2", "--repeats", "1")
    (row,) = result["pipelines"]
    assert row["ratio"] == pytest.approx(row["deliver"] / row["consume"])
    assert len(result["knobs"]) == 5 and all(k["examples_per_s"] > 0 for k in result["knobs"])


def test_inference_table_has_every_export_and_ratios(tmp_path):
    result = run_benchmark("inference.py", tmp_path, "--models", "resnet18", "--train-steps", "3",
                           "--runs", "3")
    rows = {r["variant"]: r for r in result["resnet18"]["rows"]}
    assert set(rows) == {"Keras", "SavedModel", "TFLite fp32", "TFLite fp16", "TFLite dynamic",
                         "TFLite int8"}
    ratios = result["resnet18"]["ratios"]
    assert ratios["int8_size_vs_fp32"] == pytest.approx(
        rows["TFLite int8"]["bytes"] / rows["TFLite fp32"]["bytes"])
    assert rows["TFLite fp32"]["score"] == pytest.approx(rows["Keras"]["score"], abs=0.5)


def test_time_to_accuracy_reports_each_side_curve(tmp_path):
    result = run_benchmark("time_to_accuracy.py", tmp_path, "--train-examples", "2000",
                           "--target", "0.5", "--epochs", "1", "--keras-epochs", "1")
    for row in result["rows"]:
        (seconds, accuracy), = row["curve"]
        assert seconds > 0 and 0 <= accuracy <= 1
        reached = accuracy >= 0.5
        assert (row["seconds_to_target"] is not None) == reached


def test_grouped_conv_compares_the_same_model_both_ways(tmp_path):
    (row,) = run_benchmark("grouped_conv.py", tmp_path, "--batch", "8", "--steps", "1",
                           "--repeats", "1")
    rates = row["images_per_s"]
    assert set(rates) == {"kerasdl", "keras"} and all(rate > 0 for rate in rates.values())
    assert row["ratio"] == pytest.approx(rates["kerasdl"] / rates["keras"], rel=1e-6)
    assert row["max_abs_output_difference"] < 1e-4
