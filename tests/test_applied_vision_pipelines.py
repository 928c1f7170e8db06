"""The applied-vision pipelines end to end in --fast mode (slow: each trains a few steps)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script, tmp_path, *args):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / script), "--fast", "--out-dir",
                    str(tmp_path), *args], check=True, capture_output=True, text=True)


@pytest.mark.slow
def test_transfer_learning_fast(tmp_path):
    run("transfer_learning.py", tmp_path, "--sizes", "100", "--gallery",
        str(tmp_path / "gallery.png"))
    result = json.loads((tmp_path / "transfer_learning_fast" / "results.json").read_text())
    row = result["by_train_size"]["100"]
    for arm in ("fine_tuned_frozen", "fine_tuned_all", "scratch"):
        assert 0 <= row[f"{arm}_accuracy"] <= 1
    assert row["fine_tuned_frozen_frozen_layers"] > 0 == row["fine_tuned_all_frozen_layers"]
    assert (tmp_path / "gallery.png").stat().st_size > 10_000


@pytest.mark.slow
def test_style_transfer_fast(tmp_path):
    run("style_transfer.py", tmp_path)
    out = tmp_path / "style_transfer_fast"
    result = json.loads((out / "results.json").read_text())
    assert set(result["pairs"]) == {"astronaut_x_coffee", "chelsea_x_flower"}
    assert (out / "style_transfer.png").exists() and (out / "extractor.keras").exists()
    for images in ("training_images_new_crops", "held_out_images"):
        confusion = np.asarray(result[f"rotation_confusion_{images}"])
        assert confusion.shape == (4, 4) and confusion.sum() == 256
        assert result[f"rotation_accuracy_{images}"] == np.trace(confusion) / 256


@pytest.mark.slow
def test_pose_fast(tmp_path):
    run("pose.py", tmp_path)
    result = json.loads((tmp_path / "pose_fast" / "results.json").read_text())
    assert result["quokka"]["argmax_max_error_px"] <= 4.0  # within half a stride-8 cell
    assert 0 <= result["stacked_hourglass"]["pck@0.2_argmax"] <= 1
    assert 0 <= result["hourglass_paf"]["pck@0.2_grouped"] <= 1
