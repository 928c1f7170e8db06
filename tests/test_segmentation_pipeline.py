"""The nuclei segmentation pipeline end to end in --fast mode (slow: several model builds and a
TFLite export)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_segment_nuclei_fast(tmp_path):
    script = str(ROOT / "pipelines" / "segment_nuclei.py")
    subprocess.run([sys.executable, script, "--fast", "--models", "unet,segnet", "--out-dir",
                    str(tmp_path)], check=True, capture_output=True, text=True)
    rows = json.loads((tmp_path / "segment_nuclei_fast" / "results.json").read_text())
    assert [r["model"] for r in rows] == ["unet", "segnet"]
    for row in rows:
        assert 0 <= row["foreground_iou"] <= 1 and row["params"] > 0 and row["latency_ms"] > 0
    assert (tmp_path / "segment_nuclei_fast" / "overlay.png").stat().st_size > 10_000
    exported = list(tmp_path.glob("segment_nuclei_*_fast/metadata.json"))
    assert exported and json.loads(exported[0].read_text())
    bad = subprocess.run([sys.executable, script, "--models", "mask_rcnn"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown models" in bad.stderr
