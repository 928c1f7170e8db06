"""The video pipeline's --fast smoke run (slow: it trains, exports nothing, reads real videos)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))


@pytest.mark.slow
def test_video_pipeline_fast(tmp_path):
    import video_classification

    rows = video_classification.main(["--fast", "--models", "c3d,two_stream", "--out-dir", str(tmp_path)])
    assert set(rows) == {"c3d", "two_stream"}
    assert all(0 <= r["test_accuracy"] <= 1 and r["params"] > 0 and r["flops"] > 0 for r in rows.values())
    demo = json.loads((tmp_path / "video_fast" / "real_videos.json").read_text())
    assert set(demo) == set(video_classification.REAL_VIDEOS)
    assert (tmp_path / "video_fast" / "flow.png").stat().st_size > 10_000
