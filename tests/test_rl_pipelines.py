"""The RL pipelines run end to end in their --fast mode."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "pipelines" / script), *args], check=True,
                          capture_output=True, text=True)


def test_cliff_walking_pipeline_fast(tmp_path):
    run("cliff_walking.py", "--fast", "--out-dir", str(tmp_path))
    out = tmp_path / "cliff_walking_fast"
    results = json.loads((out / "results.json").read_text())
    q_path = results["methods"]["Q-learning"]["greedy_path_seed0"]
    assert q_path[0] == 36 and q_path[-1] == 47  # even 100 episodes find the goal
    for figure in ("returns.png", "paths.png"):
        assert (out / figure).stat().st_size > 10_000


def test_dqn_cartpole_pipeline_fast(tmp_path):
    """Train a dueling double DQN briefly, export it (built-in ops, parity) and replay its episodes
    with the TFLite interpreter."""
    run("dqn_cartpole.py", "--fast", "--variants", "double_dueling", "--out-dir", str(tmp_path))
    results = json.loads((tmp_path / "dqn_cartpole_fast" / "results.json").read_text())
    tflite = results["tflite"]
    assert tflite["max_abs_error"] <= 1e-4 and tflite["action_agreement"] >= 0.99
    # the TFLite policy plays the same seeded episodes as the Keras one
    assert abs(tflite["return_mean"] - tflite["keras_return_mean"]) <= 0.1 * tflite["keras_return_mean"]
    assert (tmp_path / "dqn_cartpole_fast" / "learning_curves.png").stat().st_size > 10_000
    assert (tmp_path / "dqn_cartpole_best_fast" / "dqn_cartpole_best_fast_fp32.tflite").exists()
