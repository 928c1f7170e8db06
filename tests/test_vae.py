"""Autoencoders and VAEs: the Gaussian KL and reparameterisation, the loss bookkeeping (-ELBO),
beta, conditioning, training-only corruption, and decoder export."""
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.layers.sampling import GaussianSampling, gaussian_kl
from kerasdl.models.generative import autoencoder, vae
from kerasdl.data.pipelines import from_arrays
from kerasdl.train import Trainer

SMALL = {"filters": (8, 16), "hidden": 32, "latent_dim": 4}
ROOT = Path(__file__).resolve().parents[1]


def _images(n=8, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype=np.float32)


def _np_bce_sum(logits, y):
    logits, y = logits.astype(np.float64), y.astype(np.float64)
    bce = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
    return bce.reshape(len(y), -1).sum(-1)


def _np_kl(mu, logvar):
    """Sum of univariate KL(N(m, s^2) || N(0, 1)) = -log s + (s^2 + m^2) / 2 - 1/2."""
    mu, logvar = mu.astype(np.float64), logvar.astype(np.float64)
    s = np.exp(logvar / 2)
    return (-np.log(s) + (s ** 2 + mu ** 2) / 2 - 0.5).sum(-1)


def test_gaussian_kl_closed_form_matches_numpy_and_monte_carlo():
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(size=(3, 5)), rng.normal(scale=0.7, size=(3, 5))
    kl = keras.ops.convert_to_numpy(gaussian_kl(mu.astype("float32"), logvar.astype("float32")))
    np.testing.assert_allclose(kl, _np_kl(mu, logvar), rtol=1e-5)
    # Monte Carlo: E_q[log q(z) - log p(z)] with z ~ q
    sigma = np.exp(logvar / 2)
    z = mu + sigma * rng.standard_normal((200_000, *mu.shape))
    log_q = -0.5 * (((z - mu) / sigma) ** 2 + np.log(2 * np.pi) + logvar)
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi))
    mc = (log_q - log_p).sum(-1).mean(0)
    np.testing.assert_allclose(kl, mc, rtol=0.02, atol=0.02)


def test_reparameterisation_gradient_reaches_mean_and_log_variance():
    layer = GaussianSampling(seed=3)
    mu = tf.Variable(np.random.default_rng(1).normal(size=(64, 3)).astype("float32"))
    logvar = tf.Variable(np.full((64, 3), -0.5, "float32"))
    with tf.GradientTape() as tape:
        z = layer([mu, logvar], training=True)
        loss = tf.reduce_sum(z ** 2)
    g_mu, g_logvar = tape.gradient(loss, [mu, logvar])
    z, eps = z.numpy(), (z.numpy() - mu.numpy()) / np.exp(logvar.numpy() / 2)
    assert np.std(eps) > 0.5  # really sampled
    np.testing.assert_allclose(g_mu.numpy(), 2 * z, rtol=1e-5, atol=1e-6)  # dz/dmu = 1
    # dz/dlogvar = eps * sigma / 2
    np.testing.assert_allclose(g_logvar.numpy(), 2 * z * eps * np.exp(logvar.numpy() / 2) / 2,
                               rtol=1e-4, atol=1e-5)
    # inference returns the mean
    np.testing.assert_array_equal(layer([mu, logvar], training=False).numpy(), mu.numpy())


def _encoder_stats(model, x, labels=None):
    enc = vae.encoder_model(model)
    mu, logvar = enc((x, labels) if labels is not None else x, training=False)
    return np.asarray(mu), np.asarray(logvar)


def test_beta_scales_the_kl_term_exactly():
    x = _images()
    base = vae.VAE(**SMALL, beta=1.0)
    beta4 = vae.VAE(**SMALL, beta=4.0)
    beta4.set_weights(base.get_weights())
    base(x, training=True)
    beta4(x, training=True)
    kl1, kl4 = float(base.losses[0]), float(beta4.losses[0])
    assert kl1 > 0 and kl4 == 4 * kl1
    np.testing.assert_allclose(kl1, _np_kl(*_encoder_stats(base, x)).mean(), rtol=1e-5)
    assert kerasdl.create_model("beta_vae", **SMALL).get_config()["beta"] == 4.0


def test_reported_loss_is_reconstruction_plus_beta_kl():
    x = _images(16)
    model = vae.VAE(**SMALL, beta=0.5)
    trainer = Trainer(model, vae.BernoulliReconstructionLoss(), "adam", jit_compile=False, verbose=0)
    reported = trainer.evaluate(from_arrays(x, x, 16, training=False))["loss"]
    mu, logvar = _encoder_stats(model, x)  # inference decodes z = z_mean
    logits = np.asarray(model.get_layer("decoder")(mu))
    by_hand = _np_bce_sum(logits, x).mean() + 0.5 * _np_kl(mu, logvar).mean()
    np.testing.assert_allclose(reported, by_hand, rtol=1e-5)
    assert np.asarray(vae.BernoulliReconstructionLoss(reduction=None)(x, logits)).shape == (16,)
    trainer.close()


def test_training_lowers_negative_elbo_estimate():
    x = _images(32, seed=4) > 0.7  # binary images
    x = x.astype("float32")
    model = vae.VAE(**SMALL)
    before = vae.negative_elbo(model, x, samples=2)
    optimizer, loss_fn = keras.optimizers.Adam(3e-3), vae.BernoulliReconstructionLoss()

    @tf.function
    def step():  # the KL reaches the gradient through model.losses
        with tf.GradientTape() as tape:
            loss = loss_fn(x, model(x, training=True)) + tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    for _ in range(30):
        step()
    after = vae.negative_elbo(model, x, samples=2)
    assert after["neg_elbo"] < before["neg_elbo"] - 50
    assert after["neg_elbo"] == pytest.approx(after["recon"] + after["kl"])
    assert after["bits_per_dim"] == pytest.approx(after["neg_elbo"] / (784 * np.log(2)))


def test_cvae_label_changes_output_and_per_class_decoder():
    x = _images(4)
    model = vae.ConditionalVAE(**SMALL, num_classes=10)
    out_a = np.asarray(model((x, np.zeros(4, "int32"))))
    out_b = np.asarray(model((x, np.full(4, 7, "int32"))))
    assert np.abs(out_a - out_b).max() > 1e-4
    dec = vae.decoder_model(model)
    z = np.zeros((2, 4), "float32")
    a, b = (np.asarray(dec((z, np.array([c, c], "int32")))) for c in (1, 2))
    assert a.min() >= 0 and a.max() <= 1 and np.abs(a - b).max() > 1e-4
    mu, _ = _encoder_stats(model, x, np.zeros(4, "int32"))
    np.testing.assert_allclose(np.asarray(dec((mu, np.zeros(4, "int32")))),
                               1 / (1 + np.exp(-out_a.astype(np.float64))), atol=1e-5)


@pytest.mark.parametrize("noise_type", ["gaussian", "masking"])
def test_denoising_noise_only_in_training(noise_type):
    x = _images(4) * 0.5 + 0.25
    clean = autoencoder.Autoencoder(**SMALL)
    noisy = autoencoder.Autoencoder(**SMALL, noise_type=noise_type, noise=0.5)
    noisy.set_weights(clean.get_weights())
    np.testing.assert_allclose(noisy(x, training=False), clean(x, training=False), atol=1e-6)
    assert np.abs(np.asarray(noisy(x, training=True)) - np.asarray(clean(x))).max() > 1e-3
    corrupted = np.asarray(noisy.get_layer("input_noise")(x, training=True))
    if noise_type == "masking":  # zeroed, never rescaled
        kept = corrupted != 0
        np.testing.assert_array_equal(corrupted[kept], x[kept])
        assert 0.4 < 1 - kept.mean() < 0.6
    else:
        assert 0.4 < np.std(corrupted - x) < 0.6


@pytest.mark.parametrize("name", ["vae", "cvae"])
def test_decoder_export_tflite_parity(name):
    from kerasdl.export import check_builtin_ops, convert, parity

    kwargs = {**SMALL, "num_classes": 10} if name == "cvae" else SMALL
    model = kerasdl.create_model(name, **kwargs)
    dec = vae.export_decoder_model(model)
    code = np.random.default_rng(0).normal(size=(8, dec.inputs[0].shape[-1])).astype("float32")
    flatbuffer = convert(dec, "fp32")
    check_builtin_ops(flatbuffer)
    assert parity(dec, flatbuffer, code)["max_abs_error"] <= 1e-4


def test_curriculum_elbo_gap_correction_is_documented():
    assert "KL(Q(z|x) || p(z|x))" in vae.__doc__
    assert "KL(Q(z|x) || p(x|z))" in vae.__doc__


@pytest.mark.slow
def test_pipeline_fast(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "pipelines" / "vae.py"), "--fast",
                             "--out-dir", str(tmp_path)], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    import json
    metrics = json.loads((tmp_path / "vae_fashion_mnist" / "metrics.json").read_text())
    assert np.isfinite(metrics["vae"]["test"]["neg_elbo"])
    assert (tmp_path / "vae_fashion_mnist" / "cvae_per_class.png").exists()
