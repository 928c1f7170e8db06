"""The audio pipelines end to end in --fast mode (slow: synthesis, training and int8 export)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_keyword_spotting_pipeline_fast(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / "keyword_spotting.py"), "--fast",
                    "--models", "kws_cnn", "--out-dir", str(tmp_path)], check=True,
                   capture_output=True, text=True)
    summary = json.loads((tmp_path / "keyword_spotting_fast" / "results.json").read_text())
    assert summary["best"] == "kws_cnn"
    assert summary["int8"]["fp32_max_abs_error"] <= 1e-4
    assert set(summary["models"]["kws_cnn"]["test_clean"]["per_voice"]) == {
        "flite:slt", "espeak:en-gb-scotland+m4"}
    assert (tmp_path / "keyword_spotting_kws_cnn_fast" / "keyword_spotting_kws_cnn_fast_int8.tflite").exists()


@pytest.mark.slow
def test_spoken_digits_ctc_pipeline_fast(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / "spoken_digits_ctc.py"), "--fast",
                    "--out-dir", str(tmp_path)], check=True, capture_output=True, text=True)
    results = json.loads((tmp_path / "spoken_digits_ctc_fast" / "results.json").read_text())
    assert results["tflite_fp32"]["max_abs_logit_error"] <= 1e-4
    assert set(results["test_clean"]["per_voice_digit_error_rate"]) == {
        "flite:slt", "espeak:en-gb-scotland+m4"}
    assert 0 <= results["test_noisy"]["string_accuracy"] <= 1
