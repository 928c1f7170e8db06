"""Video: Moving-MNIST generation, Farneback flow, and the video layers against numpy."""
import keras
import numpy as np
import pytest

from kerasdl.data import moving_mnist as mm
from kerasdl.layers.video import (NeXtVLAD, SegmentSampler, TemporalShift, inflate_conv2d,
                                  inflate_kernel, non_local_block, segment_snippets)
from kerasdl.models.video.temporal import relation_tuples

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------- data
def test_trajectory_bounces_inside_canvas_and_heads_along_its_label():
    rng = np.random.default_rng(3)
    for _ in range(200):
        path, direction, speed = mm.trajectory(rng, 20)
        assert path.min() >= 0 and path.max() <= mm.CANVAS - mm.DIGIT
        assert mm.SPEED_RANGE[0] <= speed <= mm.SPEED_RANGE[1]
        step = path[1] - path[0]
        if np.isclose(np.hypot(*step), speed):  # no bounce in the first step
            heading = np.degrees(np.arctan2(-step[0], step[1])) % 360
            error = (heading - 45 * direction + 180) % 360 - 180
            assert abs(error) <= mm.JITTER_DEGREES + 1e-6


def test_generate_pastes_the_digit_and_is_deterministic():
    digits = RNG.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    labels = np.arange(5)
    a = mm.generate(digits, labels, 6, frames=4, size=64, seed=1)
    b = mm.generate(digits, labels, 6, frames=4, size=64, seed=1)
    assert a["clips"].shape == (6, 4, 64, 64, 1)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    for clip, digit in zip(a["clips"], a["digit"]):  # one digit per clip: each frame holds it whole
        assert all(np.sort(frame.ravel())[-784:].sum() == digits[digit].astype(int).sum()
                   for frame in clip)
    np.testing.assert_array_equal(mm.select_label(a, "direction_speed"),
                                  a["direction"] * 2 + (a["speed"] >= mm.SPEED_SPLIT))
    with pytest.raises(ValueError, match="unknown label"):
        mm.select_label(a, "colour")
    with pytest.raises(ValueError, match=r"\[N, 28, 28\]"):
        mm.generate(digits[:, :20], labels, 2)


def test_downsample_is_the_block_mean():
    x = RNG.random((2, 64, 64))
    np.testing.assert_allclose(mm.downsample(x, 32)[1, 3, 5], x[1, 6:8, 10:12].mean())
    with pytest.raises(ValueError, match="divide"):
        mm.downsample(x, 30)


def test_farneback_recovers_a_known_translation():
    yy, xx = np.mgrid[:48, :48]
    blob = lambda cy, cx: np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 30.0) + \
        0.5 * np.exp(-((yy - cy - 8) ** 2 + (xx - cx + 6) ** 2) / 15.0)
    frames = np.stack([blob(20, 20), blob(21, 22)])  # moves dy=1, dx=2
    flow = mm.farneback_flow(frames)
    assert flow.shape == (1, 48, 48, 2)
    strong = frames[0] > 0.3
    np.testing.assert_allclose(np.median(flow[0][strong], 0), [2.0, 1.0], atol=0.25)
    with pytest.raises(ValueError, match="T >= 2"):
        mm.farneback_flow(frames[:1])


# --------------------------------------------------------------------------- layers
def test_temporal_shift_matches_numpy_and_costs_nothing():
    x = RNG.random((2, 5, 3, 3, 8)).astype("float32")
    fold = 8 // 4
    expected = x.copy()
    expected[:, :, :, :, :fold] = 0
    expected[:, 1:, :, :, :fold] = x[:, :-1, :, :, :fold]  # forward in time
    expected[:, :, :, :, fold:2 * fold] = 0
    expected[:, :-1, :, :, fold:2 * fold] = x[:, 1:, :, :, fold:2 * fold]
    np.testing.assert_array_equal(TemporalShift(4)(x), expected)

    from kerasdl.analysis import analyze

    inputs = keras.Input((5, 3, 3, 8))
    report = analyze(keras.Model(inputs, TemporalShift(4, name="shift")(inputs)))
    assert report.layer("shift").flops == 0 and report.params == 0
    with pytest.raises(ValueError, match="C >= fold_div"):
        TemporalShift(8)(x[..., :4])


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_inflated_conv_equals_the_2d_conv_on_a_constant_clip(padding):
    conv = keras.layers.Conv2D(4, 3, padding=padding)
    frame = RNG.random((2, 7, 7, 3)).astype("float32")
    expected = conv(frame).numpy()
    clip = np.repeat(frame[:, None], 5, 1)
    out = inflate_conv2d(conv, 3, temporal_padding=padding)(clip).numpy()
    frames = out if padding == "valid" else out[:, 1:-1]  # 'same' pads time with zeros at the ends
    for t in range(frames.shape[1]):
        np.testing.assert_allclose(frames[:, t], expected, atol=1e-5)
    assert inflate_kernel(np.ones((3, 3, 1, 1)), 4).sum() == pytest.approx(9)


def test_segment_sampling():
    np.testing.assert_array_equal(segment_snippets(8, 3, 2), [[0, 1], [3, 4], [5, 6]])
    np.testing.assert_array_equal(segment_snippets(8, 4, 1), [[0], [2], [4], [6]])
    with pytest.raises(ValueError, match="do not fit"):
        segment_snippets(4, 3, 2)
    x = np.broadcast_to(np.arange(8, dtype="float32")[None, :, None], (64, 8, 1)).copy()
    sampler = SegmentSampler(2, 2, seed=1)
    np.testing.assert_array_equal(sampler(x)[0, :, :, 0], [[1, 2], [5, 6]])
    drawn = np.asarray(sampler(x, training=True))[..., 0]  # [B, 2 segments, 2 frames]
    assert (np.diff(drawn, axis=-1) == 1).all()  # consecutive frames
    assert drawn[:, 0].min() >= 0 and drawn[:, 0].max() <= 3 and drawn[:, 1].min() >= 4
    assert len(np.unique(drawn[:, 0, 0])) == 3  # every start of the segment occurs


def test_relation_tuples_are_ordered_and_spread():
    tuples = relation_tuples(8, 3, 4)
    assert tuples.shape == (4, 3) and (np.diff(tuples, axis=1) > 0).all()
    np.testing.assert_array_equal(tuples[0], [0, 1, 2])
    np.testing.assert_array_equal(tuples[-1], [5, 6, 7])
    assert len(relation_tuples(3, 2, 10)) == 3


def test_nextvlad_matches_numpy():
    layer = NeXtVLAD(clusters=3, groups=2, expansion=2)
    x = RNG.normal(size=(2, 5, 6)).astype("float32")
    out = layer(x).numpy()
    w = {v.path.split("/")[-2] + "/" + v.name if v.name in ("kernel", "bias") else v.name: v.numpy()
         for v in layer.weights}
    expanded = x @ w["expand/kernel"] + w["expand/bias"]  # [B, M, 12]
    gate = 1 / (1 + np.exp(-(expanded @ w["group_attention/kernel"] + w["group_attention/bias"])))
    logits = (expanded @ w["assignment/kernel"] + w["assignment/bias"]).reshape(2, 5, 2, 3)
    soft = np.exp(logits - logits.max(-1, keepdims=True))
    soft = soft / soft.sum(-1, keepdims=True) * gate[..., None]  # [B, M, G, K]
    grouped = expanded.reshape(2, 5, 2, 6)
    vlad = np.einsum("bmgk,bmgj->bkj", soft, grouped) - soft.sum((1, 2))[..., None] * w["centres"]
    vlad /= np.linalg.norm(vlad, axis=-1, keepdims=True)
    vlad = vlad.reshape(2, -1)
    np.testing.assert_allclose(out, vlad / np.linalg.norm(vlad, axis=-1, keepdims=True), atol=1e-5)


def test_non_local_block_starts_as_identity():
    inputs = keras.Input((2, 3, 3, 4))
    model = keras.Model(inputs, non_local_block(inputs, name="nl"))
    x = RNG.random((2, 2, 3, 3, 4)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), x, atol=1e-6)


def test_inflate_from_bootstraps_i3d_from_a_2d_net():
    from kerasdl.models.video.conv3d import I3D, inflate_from

    i3d = I3D(num_classes=4, input_shape=(4, 8, 8, 1), filters=(4, 8))
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="stem_conv")
    two_d = keras.Model(inputs, conv(inputs))
    assert inflate_from(i3d, two_d) == ["stem_conv"]
    np.testing.assert_allclose(i3d.get_layer("stem_conv").kernel.numpy(),
                               inflate_kernel(conv.kernel.numpy(), 3), atol=1e-7)
