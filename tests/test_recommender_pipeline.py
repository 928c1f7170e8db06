"""pipelines/recommender.py end to end in --fast mode (every model, one short epoch on 4,000
ratings; the export and the bidding simulation). Slow-marked: several minutes on a loaded 2-core
machine (eleven model builds and trainings, SavedModel + TFLite export)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_recommender_pipeline_fast(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / "recommender.py"), "--fast",
                    "--out-dir", str(tmp_path)], check=True, capture_output=True, text=True)
    out = tmp_path / "recommender_fast"
    metrics = json.loads((out / "metrics.json").read_text())
    baselines = metrics["rating"]["time-ordered"]["baselines"]
    assert 0.9 < baselines["user + item bias"] < baselines["global mean"] < 1.3
    assert metrics["rating"]["random"]["mf"]["test_rmse"] < 1.3
    for name in ("mf", "fm"):
        assert metrics["rating"]["time-ordered"][name]["test_rmse"] < 1.3
    for name, r in metrics["ctr"].items():
        assert 0.5 < r["test"]["auc"] <= 1.0 and 0.5 < r["test"]["gauc"] <= 1.0, name
    assert metrics["retrieval"]["popularity"]["test"]["recall@10"] > 0.05  # PinSage's run: 0.070
    assert metrics["export"]["max_abs_error"] <= 1e-4
    bidding = metrics["bidding"]
    assert all(bidding[k]["spend"] <= bidding["budget"] + 1e-9 for k in bidding if isinstance(bidding[k], dict))
    assert (out / "recommender.png").stat().st_size > 10_000
