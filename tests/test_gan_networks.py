"""GAN layers (self-attention, minibatch discrimination/stddev), GAN networks, VAE-GAN, pipeline."""
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.layers.gan import MinibatchDiscrimination, MinibatchStdDev, SelfAttention2D
from kerasdl.models.generative.vae_gan import ConvEncoder, VAEGANTrainer

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)


def _softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ------------------------------------------------------------------------------------- layers
def test_self_attention_starts_as_identity_and_rows_sum_to_one():
    x = RNG.normal(size=(2, 5, 4, 16)).astype("float32")
    layer = SelfAttention2D()
    np.testing.assert_array_equal(layer(x), x)  # gamma = 0
    beta = np.asarray(layer.attention_weights(x))
    assert beta.shape == (2, 20, 20)
    np.testing.assert_allclose(beta.sum(-1), 1.0, rtol=1e-5)
    assert beta.min() >= 0


def test_self_attention_matches_numpy():
    x = RNG.normal(size=(2, 3, 4, 16)).astype("float32")
    layer = SelfAttention2D(key_ratio=8, value_ratio=2)
    layer(x)
    layer.gamma.assign(0.7)
    wq, wk, wv, wo = (np.asarray(l.kernel)[0, 0] for l in (layer.query, layer.key, layer.value,
                                                             layer.out))
    flat = x.reshape(2, 12, 16)
    q, k, v = flat @ wq, flat @ wk, flat @ wv
    beta = _softmax(q @ k.transpose(0, 2, 1))  # [B, queries, keys]
    expected = flat + 0.7 * ((beta @ v) @ wo)
    np.testing.assert_allclose(np.asarray(layer(x)).reshape(2, 12, 16), expected, atol=1e-5)
    assert layer.query.kernel.shape[-1] == 2 and layer.value.kernel.shape[-1] == 8


def test_self_attention_spectral_norm_and_config_round_trip():
    layer = SelfAttention2D(key_ratio=4, spectral_norm=True)
    x = RNG.normal(size=(2, 4, 4, 8)).astype("float32")
    layer(x)
    assert isinstance(layer.query, keras.layers.SpectralNormalization)
    clone = SelfAttention2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def _numpy_minibatch_features(f, T, kernels, dims):
    m = (f @ T).reshape(len(f), kernels, dims)
    dist = np.abs(m[:, None] - m[None, :]).sum(-1)  # [B, B, K]
    return np.concatenate([f, np.exp(-dist).sum(1)], axis=-1)


def test_minibatch_discrimination_matches_numpy_and_depends_on_the_batch():
    f = RNG.normal(size=(6, 10)).astype("float32")
    layer = MinibatchDiscrimination(num_kernels=5, kernel_dims=3)
    out = np.asarray(layer(f))
    assert out.shape == (6, 15) and layer.compute_output_shape((None, 10)) == (None, 15)
    expected = _numpy_minibatch_features(f, np.asarray(layer.T), 5, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # Each sample's closeness to itself contributes exp(0) = 1 per kernel.
    assert np.all(out[:, 10:] >= 1.0 - 1e-6)
    changed = f.copy()
    changed[3] += 0.5
    out2 = np.asarray(layer(changed))
    np.testing.assert_array_equal(out2[0, :10], out[0, :10])  # sample 0's own features
    assert np.abs(out2[0, 10:] - out[0, 10:]).max() > 1e-4  # ... but not its batch features


def test_minibatch_stddev_matches_numpy():
    x = RNG.normal(size=(4, 3, 3, 2)).astype("float32")
    out = np.asarray(MinibatchStdDev()(x))
    assert out.shape == (4, 3, 3, 3)
    np.testing.assert_allclose(out[..., :2], x)
    np.testing.assert_allclose(out[..., 2], np.sqrt(x.var(0) + 1e-8).mean(), rtol=1e-5)


# ----------------------------------------------------------------------------------- networks
GENERATORS = ["mlp_generator", "dcgan_generator", "sagan_generator", "cdcgan_generator"]
DISCRIMINATORS = ["mlp_discriminator", "dcgan_discriminator", "sagan_discriminator",
                  "cdcgan_discriminator"]


def _inputs(model, batch=4, labels=None):
    xs = [RNG.normal(size=(batch, *model.inputs[0].shape[1:])).astype("float32")]
    if len(model.inputs) == 2:
        xs.append(np.asarray(labels if labels is not None else np.arange(batch) % 3, "int32"))
    return xs[0] if len(xs) == 1 else tuple(xs)


@pytest.mark.parametrize("name", GENERATORS + DISCRIMINATORS)
def test_network_shapes(name):
    from contract import small_model

    model = small_model(name)
    out = np.asarray(model(_inputs(model), training=False))
    if name.endswith("generator"):
        assert out.shape == (4, 28, 28, 1) and np.abs(out).max() <= 1.0
    else:
        assert out.shape == (4, 1) and np.all(np.isfinite(out))


def test_conditional_label_changes_outputs():
    g = kerasdl.create_model("cdcgan_generator", latent_dim=8, filters=4, num_classes=3)
    d = kerasdl.create_model("cdcgan_discriminator", filters=4, num_classes=3)
    z = RNG.normal(size=(3, 8)).astype("float32")
    # A fresh embedding's rows differ; make the difference large enough to see through BN.
    a = np.asarray(g((z, np.zeros(3, "int32")), training=False))
    b = np.asarray(g((z, np.full(3, 2, "int32")), training=False))
    assert np.abs(a - b).max() > 1e-4
    images = RNG.uniform(-1, 1, (3, 28, 28, 1)).astype("float32")
    assert np.abs(np.asarray(d((images, np.zeros(3, "int32")))) -
                  np.asarray(d((images, np.full(3, 2, "int32"))))).max() > 1e-5


def test_minibatch_discriminator_output_depends_on_other_samples():
    d = kerasdl.create_model("dcgan_discriminator", filters=4, normalization="none",
                             minibatch_discrimination=4)
    images = RNG.uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    other = images.copy()
    other[1:] = RNG.uniform(-1, 1, (3, 28, 28, 1))
    assert abs(float(d(images)[0, 0]) - float(d(other)[0, 0])) > 1e-6
    plain = kerasdl.create_model("dcgan_discriminator", filters=4, normalization="none")
    np.testing.assert_allclose(plain(images)[0], plain(other)[0], atol=1e-6)


def _spectral_norm(kernel):
    return np.linalg.svd(np.asarray(kernel).reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


def test_spectral_norm_discriminator_weights_have_unit_spectral_norm_after_training_calls():
    d = kerasdl.create_model("dcgan_discriminator", filters=4, normalization="spectral")
    wrapped = [l for l in d.layers if isinstance(l, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # two convs and the score layer
    images = RNG.uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    before = [_spectral_norm(l.layer.kernel) for l in wrapped]
    d(images, training=False)  # inference leaves the kernels alone
    np.testing.assert_allclose([_spectral_norm(l.layer.kernel) for l in wrapped], before)
    assert max(abs(s - 1) for s in before) > 0.1
    for _ in range(30):
        d(images, training=True)  # one power iteration + renormalisation per call
    np.testing.assert_allclose([_spectral_norm(l.layer.kernel) for l in wrapped], 1.0, atol=0.02)


def test_bad_hyperparameters_raise():
    with pytest.raises(ValueError, match="normalization"):
        kerasdl.create_model("dcgan_discriminator", normalization="instance")
    with pytest.raises(ValueError, match="num_classes"):
        kerasdl.create_model("cdcgan_generator", num_classes=1)


def test_sagan_attention_gamma_gets_a_gradient():
    g = kerasdl.create_model("sagan_generator", latent_dim=8, filters=8)
    z = RNG.normal(size=(4, 8)).astype("float32")
    gamma = g.get_layer("attention14").gamma
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(g(z, training=True)))
    assert abs(float(tape.gradient(loss, gamma))) > 0


# ------------------------------------------------------------------------------------ VAE-GAN
def test_vae_gan_step_and_feature_space_reconstruction_loss():
    from kerasdl.data.pipelines import from_arrays

    keras.utils.set_random_seed(0)
    g = kerasdl.create_model("dcgan_generator", latent_dim=8, filters=4)
    d = kerasdl.create_model("dcgan_discriminator", filters=4, normalization="layer")
    e = ConvEncoder(latent_dim=8, filters=4)
    trainer = VAEGANTrainer(e, g, d, feature_layer="down7_act", jit_compile=False, verbose=0)
    x = RNG.uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    y = RNG.uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    # L_llike = ½‖Dis_l(x) − Dis_l(y)‖² per example, Dis_l the discriminator's "down7_act" output.
    dis_l = keras.Model(d.inputs[0], d.get_layer("down7_act").output)
    fx, fy = np.asarray(dis_l(x)).reshape(8, -1), np.asarray(dis_l(y)).reshape(8, -1)
    np.testing.assert_allclose(trainer.feature_loss(x, y, training=False),
                               0.5 * ((fx - fy) ** 2).sum(-1), rtol=1e-4)
    encoder_before = [np.asarray(v).copy() for v in e.trainable_variables]
    history = trainer.fit(from_arrays(x, np.zeros(8, "int32"), 4, training=True), epochs=1)
    logs = history.epochs[-1]
    assert set(logs) >= {"d_loss", "g_loss", "kl", "feature_loss"}
    assert all(np.isfinite(logs[k]) for k in ("d_loss", "g_loss", "kl", "feature_loss"))
    assert any(np.abs(np.asarray(v) - b).max() > 0 for v, b in zip(e.trainable_variables,
                                                                   encoder_before))
    assert "e_optimizer" in trainer.optimizers
    assert trainer.reconstruct(x).shape == (8, 28, 28, 1)
    trainer.close()


# ----------------------------------------------------------------------------------- pipeline
@pytest.mark.slow
def test_gan_pipeline_fast(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "gan.py"), "--fast", "--out-dir", str(tmp_path),
         "--variants", "gan_ns,dcgan"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "gan_fashion_mnist"
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    assert {r["variant"] for r in metrics["variants"]} == {"gan_ns", "dcgan"}
    assert all(np.isfinite(r["fid"]) for r in metrics["variants"])
    assert (out / "results.md").exists() and (out / "fid_vs_epoch.png").exists()
    assert metrics["export"]["tflite_fp32_max_abs_error"] <= 1e-4
