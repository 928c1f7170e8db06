"""Kernel MMD² against a numpy double loop, its behaviour on equal and shifted distributions, the
moment-matching trainer on a 2-D toy problem, and the GMMN pipeline's --fast run."""
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.data.pipelines import from_arrays
from kerasdl.metrics import gaussian_kernel_matrix, mmd2
from kerasdl.train.moment_matching import MomentMatchingTrainer

ROOT = Path(__file__).resolve().parents[1]
SIGMAS = (0.5, 1.0, 3.0)


def np_kernel(a, b, sigmas):
    return sum(np.exp(-np.sum((a - b) ** 2) / (2 * s * s)) for s in sigmas)


def np_mmd2(x, y, sigmas, unbiased):
    """mean k(x,x') − 2·mean k(x,y) + mean k(y,y'), by double loops (the curriculum's expansion,
    with the cross term's missing factor 2); unbiased: i ≠ i' in the within-set means."""
    x, y = x.reshape(len(x), -1).astype(np.float64), y.reshape(len(y), -1).astype(np.float64)

    def within(s):
        pairs = [(i, j) for i in range(len(s)) for j in range(len(s)) if not unbiased or i != j]
        return np.mean([np_kernel(s[i], s[j], sigmas) for i, j in pairs])

    cross = np.mean([np_kernel(a, b, sigmas) for a in x for b in y])
    return within(x) - 2 * cross + within(y)


def test_kernel_matrix_matches_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 2, 3)), rng.normal(size=(4, 2, 3))
    expected = [[np_kernel(a.ravel(), b.ravel(), SIGMAS) for b in y] for a in x]
    np.testing.assert_allclose(gaussian_kernel_matrix(x, y, SIGMAS), expected, rtol=1e-5)


@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd2_matches_double_loop(unbiased):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.7, 1.2, size=(5, 3))
    got = float(mmd2(x.astype("float32"), y.astype("float32"), SIGMAS, unbiased=unbiased))
    np.testing.assert_allclose(got, np_mmd2(x, y, SIGMAS, unbiased), rtol=1e-4, atol=1e-6)
    # the two estimators differ exactly by the diagonal terms
    biased = np_mmd2(x, y, SIGMAS, False)
    assert (got == pytest.approx(biased, rel=1e-4)) != unbiased


def test_mmd2_near_zero_for_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 4)).astype("float32")
    same = rng.normal(size=(400, 4)).astype("float32")
    assert abs(float(mmd2(x, same, SIGMAS))) < 5e-3
    assert float(mmd2(x, same, SIGMAS, unbiased=False)) > 0  # the V-statistic is never negative
    values = [float(mmd2(x, same + shift, SIGMAS)) for shift in (0.25, 0.5, 1.0, 2.0)]
    assert values[0] > 5e-3 and all(a < b for a, b in zip(values, values[1:])), values


def test_mmd2_compiles_under_xla_with_images():
    x = tf.random.uniform((16, 8, 8, 1))
    y = tf.random.uniform((12, 8, 8, 1))
    eager = float(mmd2(x, y))
    assert float(tf.function(mmd2, jit_compile=True)(x, y)) == pytest.approx(eager, abs=1e-5)


def toy_generator():
    noise = keras.Input((4,))
    h = keras.layers.Dense(32, activation="relu")(noise)
    h = keras.layers.Dense(32, activation="relu")(h)
    return keras.Model(noise, keras.layers.Dense(2)(h))


def test_moment_matching_trainer_lowers_mmd_on_2d_toy():
    rng = np.random.default_rng(0)
    centres = np.array([[2.0, 2.0], [-2.0, 1.0]], np.float32)
    x = (centres[rng.integers(0, 2, 1024)] + 0.3 * rng.normal(size=(1024, 2))).astype("float32")
    trainer = MomentMatchingTrainer(toy_generator(), keras.optimizers.Adam(1e-2), sigmas=SIGMAS,
                                    seed=0, jit_compile=False, verbose=0)
    test = from_arrays(x[:512], np.zeros(512, "int32"), 512, training=False)
    before = trainer.evaluate(test)["loss"]
    history = trainer.fit(from_arrays(x, np.zeros(1024, "int32"), 128, training=True), epochs=8)
    after = trainer.evaluate(test)["loss"]
    assert after < 0.2 * before, (before, after, [e["loss"] for e in history.epochs])
    samples = trainer.sample(2000).numpy()
    for centre in centres:  # both modes are covered
        assert np.mean(np.linalg.norm(samples - centre, axis=1) < 1.0) > 0.2
    trainer.close()


def test_moment_matching_in_a_fixed_feature_space():
    encoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="tanh")])
    trainer = MomentMatchingTrainer(toy_generator(), "adam", sigmas=SIGMAS, encoder=encoder,
                                    jit_compile=False, verbose=0)
    assert not encoder.trainable_weights and len(trainer.optimized_variables()) == 6
    x = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    fake = trainer.sample(8)
    np.testing.assert_allclose(trainer.discrepancy(fake, x),
                               mmd2(encoder(fake), encoder(x), SIGMAS), rtol=1e-5)
    trainer.close()


def test_gmmn_generator_outputs_tanh_images():
    import kerasdl

    g = kerasdl.create_model("gmmn_generator")
    images = g(np.random.default_rng(0).normal(size=(3, 10)).astype("float32"))
    assert images.shape == (3, 28, 28, 1) and np.all(np.abs(images) <= 1)
    assert g.count_params() == 10 * 64 + 64 + 64 * 256 + 256 + 256 * 256 + 256 + 256 * 1024 + 1024 \
        + 1024 * 784 + 784


@pytest.mark.slow  # 37-48 s at load 8, 85-180 s at load 18 on the shared 2-core CPU
def test_gmmn_pipeline_fast(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / "gmmn.py"), "--fast", "--out-dir",
                    str(tmp_path)], check=True, capture_output=True, text=True)
    run = tmp_path / "gmmn_mnist10k_fast"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_mmd2"] < metrics["test_mmd2_untrained"], metrics
    assert metrics["tflite"]["fp32"]["max_abs_error"] <= 1e-4
    assert (run / "samples.png").stat().st_size > 1000
    assert (run / "gmmn_mnist10k_fast_fp32.tflite").exists()
