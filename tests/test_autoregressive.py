"""PixelCNN / MADE: masks, the autoregressive property (exact Jacobian checks), normalised
likelihoods, bits/dim against numpy, binarisation, ancestral sampling, and the --fast pipeline."""
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.layers.masked import MaskedConv2D, MaskedDense, conv_mask, degree_mask
from kerasdl.models.generative import autoregressive as ar

ROOT = Path(__file__).resolve().parents[1]


def jacobian(model, x):
    """``J[n, i, j] = d out_i / d in_j`` for flattened per-example outputs and inputs."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reshape(model(x), (len(x), -1))
    return tape.batch_jacobian(out, x).numpy().reshape(len(x), out.shape[1], -1)


# ------------------------------------------------------------------------------------ masks
def test_conv_masks_match_raster_order():
    for kind in "AB":
        mask = conv_mask((5, 3), kind)[..., 0, 0]
        expected = np.array([[r < 2 or (r == 2 and (c < 1 or (kind == "B" and c == 1)))
                              for c in range(3)] for r in range(5)], np.float32)
        np.testing.assert_array_equal(mask, expected)
    with pytest.raises(ValueError):
        conv_mask((4, 3), "A")
    with pytest.raises(ValueError):
        conv_mask((3, 3), "C")
    with pytest.raises(ValueError):
        MaskedConv2D(4, 3, "A", strides=2)


@pytest.mark.parametrize("kind", ["A", "B"])
def test_masked_conv_receptive_field(kind):
    """Output pixel i (summed over filters) depends only on inputs before i (type A) or <= i (B)."""
    h = w = 6
    layer = MaskedConv2D(3, 5, kind)
    model = keras.Sequential([keras.Input((h, w, 1)), layer, keras.layers.Lambda(
        lambda y: keras.ops.sum(y, axis=-1, keepdims=True))])
    x = np.random.default_rng(0).normal(size=(2, h, w, 1)).astype("float32")
    jac = np.abs(jacobian(model, x)).sum(0)  # [out pixel, in pixel]
    i, j = np.indices(jac.shape)
    allowed = j < i if kind == "A" else j <= i
    assert (jac[~allowed] == 0).all()
    # raster neighbours inside the 5x5 window: left and directly above are always seen
    for pixel in range(1, h * w):
        assert jac[pixel, pixel - 1] > 0 or pixel % w == 0
        if pixel >= w:
            assert jac[pixel, pixel - w] > 0
    if kind == "B":
        assert (np.diag(jac) > 0).all()
    # the mask is applied to the kernel in call: an equivalent plain conv with a masked kernel
    ref = tf.nn.conv2d(x, layer.kernel * conv_mask((5, 5), kind), 1, "SAME") + layer.bias
    np.testing.assert_allclose(layer(x), ref, atol=1e-5)


def test_masked_layers_serialise():
    conv = MaskedConv2D(4, 3, "A", name="c")
    clone = MaskedConv2D.from_config(conv.get_config())
    assert clone.mask_type == "A" and clone.padding == "same"
    dense = MaskedDense([1, 2, 3], [1, 2], strict=True, activation="relu")
    config = keras.saving.serialize_keras_object(dense)
    clone = keras.saving.deserialize_keras_object(config)
    assert (clone.input_degrees, clone.output_degrees, clone.strict) == ([1, 2, 3], [1, 2], True)
    np.testing.assert_array_equal(degree_mask([1, 2, 3], [1, 2], strict=True),
                                  [[0, 1], [0, 0], [0, 0]])
    with pytest.raises(ValueError):
        MaskedDense([1, 2, 3], [1, 2])(np.zeros((1, 4), "float32"))


def test_active_params_count_only_unmasked_weights():
    model = kerasdl.create_model("made", image_shape=(1, 3, 1), hidden_units=(2,))
    # degrees: inputs 1,2,3; hidden 1,2; outputs strict. Input->hidden: hidden 1 <- x1 (1 link),
    # hidden 2 <- x1, x2 (2); hidden->output: out2 <- h1, out3 <- h1, h2 (3); biases 2 + 3.
    assert ar.active_params(model) == 3 + 3 + 5
    assert model.count_params() == 3 * 2 + 2 + 2 * 3 + 3
    conv = kerasdl.create_model("pixelcnn", image_shape=(4, 4, 1), filters=2, num_blocks=0)
    # type-A 7x7: 24 of 49 taps (x 1 in x 2 out) + 2 biases; heads 1x1 2->2 (6) and 2->1 (3)
    assert ar.active_params(conv) == 24 * 2 + 2 + 6 + 3


# ---------------------------------------------------------------------- autoregressive models
def test_pixelcnn_is_autoregressive_in_raster_order():
    model = kerasdl.create_model("pixelcnn", image_shape=(7, 7, 1), filters=16, num_blocks=2)
    x = ar.binarize(np.random.default_rng(1).random((4, 7, 7, 1)))
    jac = np.abs(jacobian(model, x)).sum(0)
    i, j = np.indices(jac.shape)
    assert (jac[j >= i] == 0).all()  # never its own pixel nor a later one
    assert all(jac[pixel, :pixel].any() for pixel in range(1, 49))
    assert jac[48, 47] > 0 and jac[48, 40] > 0  # left and above neighbours


@pytest.mark.parametrize("ordering", ["natural", "random"])
def test_made_jacobian_is_exactly_the_ordering(ordering):
    """Output d depends on input j iff j comes before d in the ordering (union over inputs)."""
    model = kerasdl.create_model("made", image_shape=(4, 5, 1), hidden_units=(64, 48),
                                 ordering=ordering, seed=3)
    order = model.generation_order()
    assert sorted(order) == list(range(20))
    assert (ordering == "natural") == (list(order) == list(range(20)))
    position = np.argsort(order)  # position[pixel] = its index in the ordering
    expected = position[None, :] < position[:, None]  # [out d, in j]
    x = np.random.default_rng(2).random((64, 4, 5, 1)).astype("float32")
    jac = np.abs(jacobian(model, x)).sum(0)
    np.testing.assert_array_equal(jac > 0, expected)
    # independent check of the masks: connectivity = product of the layers' masks
    degrees = ar.made_degrees(20, (64, 48), ordering, seed=3)
    paths = degree_mask(degrees[0], degrees[1]) @ degree_mask(degrees[1], degrees[2]) @ \
        degree_mask(degrees[2], degrees[3], strict=True)
    np.testing.assert_array_equal(paths.T > 0, expected)


@pytest.mark.parametrize("name,kwargs", [
    ("made", {"image_shape": (2, 2, 1), "hidden_units": (16,), "ordering": "random", "seed": 1}),
    ("pixelcnn", {"image_shape": (2, 3, 1), "filters": 8, "num_blocks": 1}),
])
def test_likelihood_is_normalised_and_sampler_draws_from_it(name, kwargs):
    """Sum of p(x) over all 2^D binary images is 1; ancestral samples follow the same p."""
    model = kerasdl.create_model(name, **kwargs)
    for w in model.trainable_weights:  # sharper conditionals than the initialisation gives
        w.assign(w * 3.0)
    shape = kwargs["image_shape"]
    d = int(np.prod(shape))
    states = np.array(list(itertools.product([0.0, 1.0], repeat=d)), "float32").reshape(-1, *shape)
    log_p = ar.bernoulli_log_likelihood(model.predict(states, verbose=0), states)
    np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, atol=1e-5)
    samples = ar.sample(model, 4000, seed=5)
    assert samples.shape == (4000, *shape) and np.isin(samples, (0, 1)).all()
    codes = (samples.reshape(4000, d) * 2 ** np.arange(d)[::-1]).sum(1).astype(int)
    freq = np.bincount(codes, minlength=2 ** d) / 4000
    assert 0.5 * np.abs(freq - np.exp(log_p)).sum() < 0.06  # total variation
    np.testing.assert_array_equal(ar.sample(model, 8, seed=5), ar.sample(model, 8, seed=5))


def test_bits_per_dim_matches_numpy_and_the_training_loss():
    model = kerasdl.create_model("made", image_shape=(4, 4, 1), hidden_units=(8,))
    x = ar.binarize(np.random.default_rng(0).random((10, 4, 4, 1)), seed=1)
    logits = model.predict(x, verbose=0).astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    nats = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(10, -1).sum(1)
    bpd = ar.log_likelihood_bits_per_dim(model, x)
    assert bpd == pytest.approx(nats.mean() / (16 * math.log(2)), rel=1e-6)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)(x, logits)  # nats per pixel
    assert bpd == pytest.approx(float(bce) / math.log(2), rel=1e-4)
    with pytest.raises(ValueError, match="binary"):
        ar.log_likelihood_bits_per_dim(model, x * 0.5)


def test_independent_bernoulli_baseline():
    rng = np.random.default_rng(0)
    train, test = rng.random((50, 3, 3, 1)), ar.binarize(rng.random((20, 3, 3, 1)))
    p = (train.reshape(50, 9).sum(0) + 1) / 52
    t = test.reshape(20, 9)
    expected = -(t * np.log2(p) + (1 - t) * np.log2(1 - p)).mean()
    assert ar.independent_bernoulli_bits_per_dim(train, test) == pytest.approx(expected)


def test_binarisation():
    grey = np.random.default_rng(0).random((200, 4, 4, 1)).astype("float32")
    np.testing.assert_array_equal(ar.binarize(grey, seed=None), grey > 0.5)
    b = ar.binarize(grey, seed=3)
    assert np.isin(b, (0, 1)).all() and (b == ar.binarize(grey, seed=3)).all()
    assert abs(b.mean() - grey.mean()) < 0.03 and not (b == (grey > 0.5)).all()
    ds = ar.binarized_dataset((grey * 255).astype("uint8"), 50, training=True, seed=0)
    epochs = [np.concatenate([x for x, _ in ds]) for _ in range(2)]
    for x in epochs:
        assert x.shape == (200, 4, 4, 1) and np.isin(x, (0, 1)).all()
        assert abs(x.mean() - grey.mean()) < 0.03
    x, y = next(iter(ds))
    np.testing.assert_array_equal(x, y)
    # fresh noise each epoch: the binarised sets (as multisets of images) differ
    assert not np.array_equal(np.sort(epochs[0].reshape(200, -1), 0), np.sort(epochs[1].reshape(200, -1), 0))
    test = list(ar.binarized_dataset(b, 64, training=False))
    np.testing.assert_array_equal(np.concatenate([x for x, _ in test]), b)


@pytest.mark.slow
def test_pipeline_fast(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "pipelines" / "autoregressive.py"), "--fast",
                    "--out-dir", str(tmp_path)], check=True, capture_output=True, text=True)
    for name in ("made", "pixelcnn"):
        run = tmp_path / f"{name}_fashion_mnist_fast"
        metrics = json.loads((run / "metrics.json").read_text())
        bpd = metrics["test_bits_per_dim"]
        assert 0 < bpd < 1.1 and 0.5 < metrics["baseline_independent_bits_per_dim"] < 0.9  # 8 steps
        assert metrics["test_nats_per_image"] == pytest.approx(bpd * 784 * math.log(2), rel=1e-6)
        assert metrics["tflite_fp32_max_abs_error"] <= 1e-4
        for f in ("samples.png", "metadata.json", "model.keras", f"{name}_fashion_mnist_fast_fp32.tflite"):
            assert (run / f).exists(), f
