"""Inception Score, Fréchet distance and the GenerativeEvaluator, against independent numpy maths."""
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from scipy import stats

from kerasdl.registry import load_dataset
from kerasdl.metrics.generative import (GenerativeEvaluator, feature_classifier,
                                        frechet_distance, gaussian_statistics, inception_score)

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- Inception Score
def test_inception_score_confident_uniform_predictions_equal_num_classes():
    k = 7
    probs = np.eye(k)[np.tile(np.arange(k), 20)]  # each split holds every class equally
    mean, std = inception_score(probs, splits=4)
    assert mean == pytest.approx(k, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_identical_predictions_is_one():
    row = np.random.default_rng(0).dirichlet(np.ones(5))
    mean, std = inception_score(np.tile(row, (100, 1)), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-9) and std < 1e-9


def test_inception_score_matches_a_direct_double_loop():
    probs = np.random.default_rng(1).dirichlet(np.full(6, 0.3), size=103)
    splits = 4
    expected = []
    for part in np.array_split(probs, splits):
        marginal = [sum(row[j] for row in part) / len(part) for j in range(6)]
        kl = [sum(row[j] * math.log(row[j] / marginal[j]) for j in range(6) if row[j] > 0)
              for row in part]
        expected.append(math.exp(sum(kl) / len(kl)))
    mean, std = inception_score(probs, splits=splits)
    assert mean == pytest.approx(np.mean(expected), rel=1e-9)
    assert std == pytest.approx(np.std(expected), rel=1e-7)
    assert 1.0 < mean < 6.0


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="probabilities"):
        inception_score(np.random.default_rng(0).normal(size=(20, 4)))


# -------------------------------------------------------------------------- Fréchet distance
@pytest.mark.parametrize("method", ["sqrtm", "eigen"])
def test_frechet_distance_closed_form_for_diagonal_covariances(method):
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = rng.uniform(0.1, 3.0, 8), rng.uniform(0.1, 3.0, 8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2), method=method) == \
        pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("method", ["sqrtm", "eigen"])
def test_frechet_distance_commuting_covariances_and_identity(method):
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))  # shared eigenvectors: S1, S2 commute
    s1, s2 = rng.uniform(0.2, 2.0, 6), rng.uniform(0.2, 2.0, 6)
    sigma1, sigma2 = q @ np.diag(s1) @ q.T, q @ np.diag(s2) @ q.T
    mu = rng.normal(size=6)
    assert frechet_distance(mu, sigma1, mu, sigma2, method=method) == \
        pytest.approx(np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2), rel=1e-8)
    assert abs(frechet_distance(mu, sigma1, mu, sigma1, method=method)) < 1e-9


def test_frechet_distance_methods_agree_on_random_spd_pair():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 20, 20))
    sigma1, sigma2 = a @ a.T + 0.1 * np.eye(20), b @ b.T + 0.1 * np.eye(20)
    mu1, mu2 = rng.normal(size=(2, 20))
    d_sqrtm = frechet_distance(mu1, sigma1, mu2, sigma2, method="sqrtm")
    d_eigen = frechet_distance(mu1, sigma1, mu2, sigma2, method="eigen")
    assert d_sqrtm == pytest.approx(d_eigen, abs=1e-6)
    # Independent: Tr((S1 S2)^½) = sum of sqrt of the eigenvalues of S1·S2 (real, positive).
    eig = np.linalg.eigvals(sigma1 @ sigma2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2) - 2 * np.sum(np.sqrt(eig))
    assert d_eigen == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mu1, sigma1, mu2, sigma2, method="eigen") > 0


def test_frechet_distance_singular_covariances():
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(5, 10))  # 5 samples in 10-D: rank-4 covariance
    mu, sigma = gaussian_statistics(feats)
    mu2, sigma2 = gaussian_statistics(rng.normal(size=(5, 10)))
    # Zero eigenvalues come out as ~1e-16 round-off, whose square roots (~1e-8) add up.
    assert abs(frechet_distance(mu, sigma, mu, sigma, method="eigen")) < 1e-6
    assert frechet_distance(mu, sigma, mu2, sigma2, method="eigen") == pytest.approx(
        frechet_distance(mu, sigma, mu2, sigma2, method="sqrtm"), abs=1e-6)
    dead = sigma.copy()
    dead[0, :] = dead[:, 0] = 0.0  # a feature with zero variance (a dead ReLU unit)
    with pytest.warns(RuntimeWarning, match="singular"):
        d_sqrtm = frechet_distance(mu, dead, mu2, sigma2, method="sqrtm")
    assert d_sqrtm == pytest.approx(frechet_distance(mu, dead, mu2, sigma2, method="eigen"),
                                    abs=1e-4)  # the eps·I offset moves it by O(eps·dim)
    with pytest.raises(ValueError, match="method"):
        frechet_distance(mu, sigma, mu, sigma, method="svd")
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(mu, sigma, mu[:3], sigma, method="eigen")


def test_frechet_distance_from_samples_approaches_the_closed_form():
    rng = np.random.default_rng(6)
    d, n = 4, 200_000
    mu1, mu2 = np.zeros(d), np.array([1.0, -0.5, 0.0, 2.0])
    s1, s2 = np.array([1.0, 2.0, 0.5, 1.5]), np.array([0.5, 2.0, 3.0, 1.0])
    x1 = mu1 + rng.normal(size=(n, d)) * np.sqrt(s1)
    x2 = mu2 + rng.normal(size=(n, d)) * np.sqrt(s2)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    estimate = frechet_distance(*gaussian_statistics(x1), *gaussian_statistics(x2))
    assert estimate == pytest.approx(expected, abs=0.03)  # expected = 5.95...; sampling error ~0.01


# ------------------------------------------------------------------------------- evaluator
def _tiny_extractor():
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(8, activation="tanh", name="embed")(x)
    return keras.Model(inputs, keras.layers.Dense(5, name="logits")(x))


def test_evaluator_accepts_any_keras_extractor(digits_arrays):
    (x, _), _ = digits_arrays
    real = np.pad(x, ((0, 0), (10, 10), (10, 10), (0, 0)))[:600]  # 8x8 digits on a 28x28 canvas
    ev = GenerativeEvaluator(_tiny_extractor(), real, batch_size=256)
    assert ev.mu.shape == (8,) and ev.sigma.shape == (8, 8)  # the penultimate layer: "embed"
    same = ev.score(real)
    assert abs(same["fid"]) < 1e-6 and 1.0 <= same["is"] <= 5.0
    noise = np.random.default_rng(0).uniform(size=real.shape).astype("float32")
    assert ev.score(noise)["fid"] > 100 * max(abs(same["fid"]), 1e-4)
    assert ev.score(noise)["fid"] > 1e-3
    named = GenerativeEvaluator(_tiny_extractor(), real, feature_layer="pool")
    assert named.mu.shape == (4,)
    # value_range: the same images given in [-1, 1] score as the originals.
    tanh_ev = GenerativeEvaluator(_tiny_extractor(), real, value_range=(-1, 1))
    assert abs(tanh_ev.score(real * 2 - 1)["fid"]) < 1e-6


def test_evaluator_scores_generators_and_runs_as_a_callback(tmp_path, digits_arrays):
    (x, _), _ = digits_arrays
    real = np.pad(x, ((0, 0), (10, 10), (10, 10), (0, 0)))[:400]
    ev = GenerativeEvaluator(_tiny_extractor(), real, value_range=(-1, 1), batch_size=128)

    z = keras.Input((6,))
    plain = keras.Model(z, keras.layers.Reshape((28, 28, 1))(
        keras.layers.Dense(784, activation="tanh")(z)))
    noise, labels = keras.Input((6,)), keras.Input((1,), dtype="int32")
    emb = keras.layers.Flatten()(keras.layers.Embedding(3, 6)(labels))
    cond = keras.Model([noise, labels], keras.layers.Reshape((28, 28, 1))(
        keras.layers.Dense(784, activation="tanh")(keras.layers.Concatenate()([noise, emb]))))

    a = ev.score_generator(plain, num_samples=300, seed=1)
    assert a == ev.score_generator(plain, num_samples=300, seed=1)  # seeded noise
    assert set(a) == {"fid", "is", "is_std"} and a["fid"] > 0
    assert ev.generate(cond, 300, num_classes=3).shape == (300, 28, 28, 1)
    with pytest.raises(ValueError, match="num_classes"):
        ev.generate(cond, 10)

    hook = ev.callback(plain, num_samples=200, every=2, grid_path=tmp_path / "e{epoch}.png")
    assert hook(1, None) is None  # epoch 1 of every 2
    logs = hook(2, None)
    assert set(logs) == {"fid", "is", "is_std"} and (tmp_path / "e2.png").stat().st_size > 1000


def test_feature_classifier_trains_caches_and_reloads(tmp_path):
    directory = tmp_path / "clf"
    kwargs = dict(epochs=2, train_examples=2048, test_examples=1000, jit_compile=False,
                  model_kwargs={"filters": (8, 16), "dense_units": 32})
    model = feature_classifier("fashion_mnist", directory=directory, **kwargs)
    meta = json.loads((directory / "metadata.json").read_text())
    assert meta["train_examples_used"] == 2048 and meta["test_examples_used"] == 1000
    x_test, y_test = load_dataset("fashion_mnist", split="test", as_numpy=True)
    accuracy = np.mean(np.argmax(model.predict(x_test[:1000], verbose=0), 1) == y_test[:1000])
    assert meta["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert accuracy > 0.2  # 32 steps (BN statistics still warming up); chance is 0.1
    start = time.perf_counter()
    again = feature_classifier("fashion_mnist", directory=directory, **kwargs)
    assert time.perf_counter() - start < 10  # loaded, not retrained
    probe = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(again.predict_on_batch(probe), model.predict_on_batch(probe),
                               atol=1e-5)
    assert not list(directory.glob(".*tmp*"))  # atomic writes left nothing behind


@pytest.mark.slow  # ~26 s of CPU, but 35-100 s of wall time on the shared 2-core machine
def test_fid_reference_pipeline_fast(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / "fid_reference.py"), "--fast",
                    "--out-dir", str(tmp_path)], check=True, capture_output=True, text=True)
    ref = json.loads((tmp_path / "fid_reference_fast" / "metrics.json").read_text())["fashion_mnist"]
    assert ref["fid"]["real_train_vs_test"] < ref["fid"]["blur_sigma1"] < ref["fid"]["uniform_noise"]
    assert ref["fid"]["real_train_vs_test"] < ref["fid"]["one_class"]
    assert ref["is"]["real_test"] > ref["is"]["one_class"]
    assert (tmp_path / "fid_reference_fast" / "baselines_fashion_mnist.png").exists()
    assert ref["classifier"]["test_accuracy"] > 0.1 and ref["images_per_set"] == 1000


def test_gaussian_statistics_matches_numpy():
    f = stats.norm.rvs(size=(50, 3), random_state=0)
    mu, sigma = gaussian_statistics(f)
    np.testing.assert_allclose(mu, f.mean(0))
    np.testing.assert_allclose(sigma, np.cov(f.T))
