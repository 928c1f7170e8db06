"""The graph pipelines end to end in --fast mode (train -> evaluate -> plot -> export -> verify).
Slow-marked: each takes about a minute on an idle 2-core machine (import, XLA-free training,
SavedModel + TFLite export)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_kg_link_prediction_pipeline_fast(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / "kg_link_prediction.py"), "--fast",
                    "--datasets", "nations", "--out-dir", str(tmp_path)], check=True,
                   capture_output=True, text=True)
    results = json.loads((tmp_path / "kg_link_prediction_fast" / "results.json").read_text())
    nations = results["nations"]
    for method in ("popularity", "distmult", "rgcn_distmult"):
        assert 1 / 14 < nations[method]["test"]["mrr"] <= 1.0, method  # 1/14: the worst rank
    assert nations["rgcn_distmult"]["tflite_fp32_max_abs_error"] <= 1e-4
    assert (tmp_path / "kg_link_prediction_fast" / "mrr.png").stat().st_size > 5_000
    assert (tmp_path / "kg_nations_rgcn_distmult_fast" / "kg_nations_rgcn_distmult_fast_fp32.tflite").exists()


@pytest.mark.slow
def test_pinsage_pipeline_fast(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / "pinsage_movielens.py"), "--fast",
                    "--out-dir", str(tmp_path)], check=True, capture_output=True, text=True)
    out = tmp_path / "pinsage_movielens_fast"
    metrics = json.loads((out / "metrics.json").read_text())
    # 2 short epochs on 8,000 pairs beat a random ranking (recall@10 ~ 10/1,600 = 0.006; seen 0.016)
    assert metrics["pinsage"]["test"]["recall@10"] > 0.01
    assert metrics["baselines"]["popularity"]["test"]["recall@10"] > 0.05
    assert len(metrics["recall_curves"]["pinsage"]) == 50
    assert metrics["tflite_fp32"]["max_abs_error"] <= 1e-4
    assert (out / "recall_at_k.png").stat().st_size > 10_000
