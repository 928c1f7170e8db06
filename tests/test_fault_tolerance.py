"""Faults injected into real training: SIGKILL mid-epoch, a killed worker of a two-process cluster,
corrupt checkpoints; and runs that must repeat exactly (fixed seeds, one vs two workers)."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from kerasdl.cli import main
from kerasdl.data.pipelines import from_arrays
from kerasdl.train import Trainer

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}

# Trains a small CNN on sklearn's digits for 3 epochs of 28 batches under op determinism, saving
# the final weights. Each epoch's batch counter runs through a py_function that, at the batch
# index given as argv[3] (-1: never) once epoch 1's checkpoint exists, marks the file "stalled"
# and sleeps: the parent then kills the process mid-epoch 2. The same pipeline runs in every leg,
# so the iterator checkpoint restores.
SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import keras, numpy as np, tensorflow as tf
    tf.config.experimental.enable_op_determinism()
    from sklearn.datasets import load_digits
    import kerasdl
    from kerasdl.data.pipelines import from_arrays
    from kerasdl.train import Trainer

    out, resume, trap = Path(sys.argv[1]), sys.argv[2] == "resume", int(sys.argv[3])
    keras.utils.set_random_seed(7)
    d = load_digits()
    x, y = (d.images / 16).astype("float32")[..., None][:1792], d.target.astype("int32")[:1792]

    def stall(i):
        if int(i) == trap and (out / "ckpt" / "ckpt-1.index").exists():
            (out / "stalled").touch()
            time.sleep(600)
        return 0.0

    def watched(i, batch):  # adds 0 to the images: a control dependency alone gets pruned
        zero = tf.ensure_shape(tf.py_function(stall, [i], tf.float32), [])
        return batch[0] + zero, batch[1]

    data = tf.data.Dataset.zip(tf.data.Dataset.counter(), from_arrays(x, y, 64, training=True, seed=3))
    options = tf.data.Options()
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    data = data.map(watched).with_options(options)
    model = lambda: kerasdl.create_model("simple_cnn", input_shape=(8, 8, 1), filters=(8, 16),
                                         dense_units=32)
    trainer = Trainer(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True), "adam",
                      jit_compile=False, checkpoint_dir=out / "ckpt", log_dir=out, verbose=0)
    trainer.fit(data, epochs=3, steps_per_epoch=28, resume=resume)
    np.savez(out / "weights.npz", *[v.numpy() for v in trainer.model.trainable_variables])
""")


def _wait_for(predicate, proc, timeout=600, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended (code {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _train(out, *args):
    out.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), *args], env=ENV)


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    straight = _train(tmp_path / "straight", "fresh", "-1")
    killed = _train(tmp_path / "killed", "fresh", "14")  # half-way through epoch 2
    ckpt = tmp_path / "killed" / "ckpt"
    _wait_for(lambda: (tmp_path / "killed" / "stalled").exists() and (ckpt / "ckpt-1.index").exists(),
              killed, what="epoch 1's checkpoint and the stall in epoch 2")
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert not (ckpt / "ckpt-2.index").exists()  # it died inside epoch 2
    assert _train(tmp_path / "killed", "resume", "-1").wait() == 0
    assert straight.wait() == 0
    a, b = (np.load(tmp_path / run / "weights.npz") for run in ("straight", "killed"))
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    history = [json.loads((tmp_path / run / "history.json").read_text()) for run in ("straight", "killed")]
    assert [e["loss"] for e in history[0]] == [e["loss"] for e in history[1]]


def _losses(seed, digits_arrays, steps=10):
    (x, y), _ = digits_arrays
    keras.utils.set_random_seed(seed)
    trainer = Trainer(lambda: keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                                keras.layers.Dropout(0.2), keras.layers.Dense(10)]),
                      LOSS, "adam", jit_compile=False, verbose=0)
    trainer.fit(from_arrays(x, y, 32, training=True, seed=seed), epochs=steps, steps_per_epoch=1)
    trainer.close()
    return [e["loss"] for e in trainer.history.epochs]


def test_fixed_seed_gives_identical_first_ten_losses(digits_arrays, op_determinism):
    first, again, other = (_losses(s, digits_arrays) for s in (3, 3, 4))
    assert len(first) == 10 and first == again
    assert first != other  # the seed does reach the data order, the init and the dropout masks


def test_a_corrupt_latest_checkpoint_falls_back_to_the_previous_one(digits_arrays, tmp_path, capsys):
    (x, y), _ = digits_arrays
    data = from_arrays(x, y, 64, training=True, seed=1)

    def trainer():
        return Trainer(lambda: keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                                 keras.layers.Dense(10)]),
                       LOSS, "adam", jit_compile=False, checkpoint_dir=tmp_path, verbose=0)

    trainer().fit(data, epochs=2)
    shard = next(tmp_path.glob("ckpt-2.data-*"))
    shard.write_bytes(shard.read_bytes()[:100])  # truncated, as by a full disk
    resumed = trainer()
    resumed.fit(data, epochs=3, resume=True)
    assert "ckpt-2" in capsys.readouterr().err
    assert [e["epoch"] for e in resumed.history.epochs][-1] == 3
    for index in tmp_path.glob("ckpt-*.index"):
        index.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="no readable checkpoint"):
        trainer().fit(data, epochs=4, resume=True)


CLUSTER_RUN = ["train", "--model", "mlp", "--dataset", "digits", "--export-modes", "",
               "--precision", "float32", "--jit", "off", "--seed", "2"]


def _weights(run_dir):
    import kerasdl.models  # noqa: F401  (registers the classes)

    return keras.models.load_model(run_dir / "model.keras").get_weights()


def test_two_local_workers_match_one_process(tmp_path):
    args = [*CLUSTER_RUN, "--fast"]
    assert main([*args, "--out-dir", str(tmp_path / "one")]) == 0
    assert main([*args, "--out-dir", str(tmp_path / "two"), "--workers", "2"]) == 0
    one, two = (tmp_path / d / "digits_mlp_fast" for d in ("one", "two"))
    report = json.loads((two / "train_report.json").read_text())
    assert report["policy"]["replicas"] == 2 and report["policy"]["strategy"] != "_DefaultDistributionStrategy"
    for a, b in zip(_weights(one), _weights(two)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    losses = [[e["loss"] for e in json.loads((d / "logs" / "history.json").read_text())] for d in (one, two)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


@pytest.mark.slow
def test_a_killed_worker_restarts_the_cluster_from_the_last_checkpoint(tmp_path):
    run_dir = tmp_path / "digits_mlp"
    cli = subprocess.Popen([sys.executable, "-m", "kerasdl.cli", *CLUSTER_RUN, "--epochs", "30",
                            "--batch-size", "8", "--workers", "2", "--max-restarts", "1",
                            "--out-dir", str(tmp_path)], env=ENV, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: (run_dir / "checkpoints" / "ckpt-2.index").exists(), cli,
              what="the chief's second checkpoint")
    pids = json.loads((run_dir / "workers" / "cluster.json").read_text())["pids"]
    os.kill(pids[1], signal.SIGKILL)
    _, stderr = cli.communicate(timeout=900)
    assert cli.returncode == 0, stderr[-3000:]
    assert "worker 1 exited with -9" in stderr and "restarting the cluster" in stderr
    assert json.loads((run_dir / "workers" / "cluster.json").read_text())["attempt"] == 1
    epochs = [e["epoch"] for e in json.loads((run_dir / "logs" / "history.json").read_text())]
    assert epochs == list(range(1, 31))  # resumed, not restarted from scratch nor duplicated
    assert json.loads((run_dir / "train_report.json").read_text())["test_accuracy"] > 0.85


@pytest.mark.slow
def test_parameter_server_cluster_trains_through_the_same_cli(tmp_path):
    """One chief (coordinator), one PS, two workers; asynchronous, so compare the outcome, not
    the weights, with one process."""
    args = [*CLUSTER_RUN, "--fast"]
    assert main([*args, "--out-dir", str(tmp_path / "one")]) == 0
    assert main([*args, "--out-dir", str(tmp_path / "ps"), "--workers", "2",
                 "--parameter-servers", "1"]) == 0
    one, ps = (json.loads((tmp_path / d / "digits_mlp_fast" / "train_report.json").read_text())
               for d in ("one", "ps"))
    assert ps["policy"]["strategy"].startswith("ParameterServerStrategy")
    assert abs(ps["test_accuracy"] - one["test_accuracy"]) < 0.05, (ps["test_accuracy"], one["test_accuracy"])
