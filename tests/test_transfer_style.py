"""Fine-tuning helpers, the random resized crop, and Gatys style-transfer losses, each checked
against numpy or the defining property."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.data.augment import RandomResizedCrop, standard_augmentations
from kerasdl.train.fine_tuning import first_layer_with_prefix, freeze_lower_layers, replace_head
from kerasdl.train.style_transfer import StyleTransfer, feature_model, gram_matrix, total_variation_loss


def tiny_vgg(num_classes=5):
    return kerasdl.create_model("vgg11_bn", small_input=True, width=1 / 16, dropout=0.0,
                                input_shape=(16, 16, 1), num_classes=num_classes)


# ------------------------------------------------------------------------------ fine-tuning
def test_replace_head_shares_the_body_and_has_a_new_head():
    base = tiny_vgg(5)
    new = replace_head(base, 3)
    assert new.outputs[0].shape[-1] == 3
    assert new.get_layer("block1_conv1_conv") is base.get_layer("block1_conv1_conv")
    assert new.get_layer("logits") is not base.get_layer("logits")
    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    pooled = keras.Model(base.inputs, base.get_layer("pool").output)(x)
    expected = pooled @ new.get_layer("logits").kernel + new.get_layer("logits").bias
    np.testing.assert_allclose(new(x), expected, atol=1e-5)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        replace_head(base, 3, features="nope")
    with pytest.raises(ValueError, match="pooled"):
        replace_head(base, 3, features="block1_conv1_act")


def test_frozen_lower_layers_stay_fixed_while_the_rest_trains():
    model = replace_head(tiny_vgg(), 4)
    boundary = first_layer_with_prefix(model, "block3")
    frozen = freeze_lower_layers(model, until=boundary)
    assert frozen and all(n.startswith(("block1", "block2")) for n in frozen)
    before = {w.path: w.numpy().copy() for w in model.weights}
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(True))
    rng = np.random.default_rng(0)
    model.fit(rng.random((8, 16, 16, 1), dtype=np.float32), rng.integers(0, 4, 8), verbose=0,
              epochs=2)
    for w in model.weights:
        changed = not np.array_equal(before[w.path], w.numpy())
        lower = w.path.startswith(("block1", "block2"))
        if lower:  # kernels, BN gammas/betas *and* BN moving statistics are untouched
            assert not changed, w.path
    assert any(not np.array_equal(before[w.path], w.numpy()) for w in model.trainable_weights)
    with pytest.raises(ValueError, match="exactly one"):
        freeze_lower_layers(model)
    with pytest.raises(ValueError, match="no layer"):
        freeze_lower_layers(model, until="missing")


# ----------------------------------------------------------------------- random resized crop
@pytest.mark.parametrize("height, width", [(32, 32), (20, 60)])
def test_random_resized_crop_boxes_have_the_requested_area_and_aspect(height, width):
    layer = RandomResizedCrop(8, 8, seed=3)
    boxes = layer.sample_boxes(4000, height, width).numpy()
    y1, x1, y2, x2 = boxes.T
    assert boxes.min() >= 0 and boxes.max() <= 1 + 1e-6
    area = (y2 - y1) * (x2 - x1)
    aspect = ((x2 - x1) * width) / ((y2 - y1) * height)  # in pixels, as torchvision defines it
    full = np.isclose(area, 1.0)
    assert full.mean() < 0.05  # the whole-image fallback is rare
    assert area[~full].min() >= 0.08 - 1e-6
    assert (aspect[~full] >= 3 / 4 - 1e-4).all() and (aspect[~full] <= 4 / 3 + 1e-4).all()
    assert area.max() > 0.9 and area.min() < 0.1  # the whole range is reached


def test_random_resized_crop_output_and_inference_identity():
    rng = np.random.default_rng(0)
    images = rng.random((3, 12, 12, 3), dtype=np.float32)
    layer = RandomResizedCrop(12, 12, seed=0)
    assert layer(images, training=True).shape == (3, 12, 12, 3)
    np.testing.assert_allclose(layer(images, training=False), images, atol=1e-6)
    assert layer(images[0], training=True).shape == (12, 12, 3)
    clone = RandomResizedCrop.from_config(layer.get_config())
    assert clone.scale == (0.08, 1.0) and clone.ratio == (0.75, 4 / 3)
    with pytest.raises(ValueError, match="scale"):
        RandomResizedCrop(8, 8, scale=(0.5, 0.1))
    assert set(standard_augmentations(16)) == {"flip", "resized crop", "colour jitter"}


# ----------------------------------------------------------------------------- style transfer
def test_gram_matrix_matches_numpy():
    f = np.random.default_rng(0).normal(size=(2, 5, 7, 4)).astype(np.float32)
    flat = f.reshape(2, 35, 4)
    expected = np.einsum("bpc,bpd->bcd", flat, flat) / 35
    np.testing.assert_allclose(gram_matrix(f), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="batch, height, width, channels"):
        gram_matrix(f[0])


def test_total_variation_matches_numpy():
    x = np.random.default_rng(1).random((2, 6, 9, 3)).astype(np.float32)
    tv = (np.abs(np.diff(x, axis=1)).sum((1, 2, 3)) + np.abs(np.diff(x, axis=2)).sum((1, 2, 3)))
    np.testing.assert_allclose(total_variation_loss(x), tv.mean() / 54, rtol=1e-5)
    assert float(total_variation_loss(np.ones((1, 4, 4, 3), np.float32))) == 0.0


def _conv_extractor():
    inputs = keras.Input((16, 16, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    b = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="c2")(a)
    return keras.Model(inputs, b)


def test_style_transfer_losses_and_optimisation():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    content = rng.random((1, 16, 16, 3), dtype=np.float32)
    style = rng.random((1, 16, 16, 3), dtype=np.float32)
    nst = StyleTransfer(_conv_extractor(), ["c2"], ["c1", "c2"], tv_weight=0.0)
    same = nst.losses(tf.constant(content), nst.targets(content, content))
    assert float(same["content"]) == 0.0 and float(same["style"]) == 0.0
    # the style loss is the mean squared Gram difference, summed over layers
    feats = feature_model(_conv_extractor(), ["c1"])
    nst_c1 = StyleTransfer(feats, ["c1"], ["c1"])
    fc, fs = feats(content).numpy().reshape(256, 4), feats(style).numpy().reshape(256, 4)
    expected = np.mean((fc.T @ fc / 256 - fs.T @ fs / 256) ** 2)
    got = nst_c1.losses(tf.constant(content), nst_c1.targets(content, style))["style"]
    np.testing.assert_allclose(float(got), expected, rtol=1e-4)
    _, history = nst.transfer(content, style, steps=30, log_every=29)
    assert history[-1]["style"] < 0.5 * history[0]["style"]
    with pytest.raises(ValueError, match="one image"):
        nst.transfer(content[0], style)
    with pytest.raises(ValueError, match="no layers"):
        StyleTransfer(_conv_extractor(), ["c9"], ["c1"])
