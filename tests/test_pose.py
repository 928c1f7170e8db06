"""Pose: synthetic figures, heatmap / PAF targets, decoding, PCK and PAF grouping, each checked
against numpy or a closed form; the two pose networks' output layouts."""
import numpy as np
import pytest

import kerasdl
from kerasdl.data.pose import (JOINTS, LIMBS, keypoint_heatmaps, part_affinity_fields,
                               stick_figures)
from kerasdl.metrics.keypoints import (argmax_keypoints, group_people, limb_score, pck,
                                       soft_argmax_keypoints)


def test_pck_matches_a_direct_count():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 50, (20, 5, 2))
    pred = true + rng.normal(0, 3, true.shape)
    visible = rng.random((20, 5)) < 0.8
    reference = rng.uniform(10, 30, 20)
    hits = total = 0
    for n in range(20):
        for k in range(5):
            if visible[n, k]:
                total += 1
                hits += np.hypot(*(pred[n, k] - true[n, k])) <= 0.2 * reference[n]
    assert pck(pred, true, visible, reference) == pytest.approx(hits / total)
    assert pck(true, true, visible, reference) == 1.0
    with pytest.raises(ValueError, match=r"\[N, K, 2\]"):
        pck(pred[0], true[0], visible[0], reference)
    with pytest.raises(ValueError, match="no visible"):
        pck(pred, true, np.zeros_like(visible), reference)


def test_argmax_and_soft_argmax_match_numpy():
    rng = np.random.default_rng(1)
    maps = rng.random((3, 6, 8, 4)).astype(np.float32)
    xy, peak = argmax_keypoints(maps, stride=4)
    for b in range(3):
        for k in range(4):
            r, c = np.unravel_index(np.argmax(maps[b, ..., k]), (6, 8))
            np.testing.assert_allclose(xy[b, k], [(c + 0.5) * 4, (r + 0.5) * 4])
            assert float(peak[b, k]) == pytest.approx(maps[b, ..., k].max())
    beta = 5.0
    p = np.exp(beta * maps) / np.exp(beta * maps).sum((1, 2), keepdims=True)
    expected = np.stack([(p * (np.arange(8) + 0.5)[None, None, :, None]).sum((1, 2)),
                         (p * (np.arange(6) + 0.5)[None, :, None, None]).sum((1, 2))], -1)
    np.testing.assert_allclose(soft_argmax_keypoints(maps, 1.0, beta), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="batch, height, width, keypoints"):
        argmax_keypoints(maps[0])


def test_heatmaps_are_gaussians_that_decode_back():
    points = np.array([[[10.0, 6.0], [3.0, 13.0], [0.0, 0.0]]])  # pixels, stride 2 -> cells 5, 3 ...
    visible = np.array([[1, 1, 0]])
    maps = keypoint_heatmaps(points, visible, 8, stride=2, sigma=1.5)
    assert maps.shape == (1, 8, 8, 3)
    r, c = 2, 4  # cell (4.5, 2.5) is 0.5 cells from (5, 3) in x and y
    assert maps[0, r, c, 0] == pytest.approx(np.exp(-(0.5 ** 2 + 0.5 ** 2) / (2 * 1.5 ** 2)))
    assert maps[0, ..., 2].max() == 0.0
    # keypoints at cell centres decode exactly (argmax) and almost exactly (soft-argmax)
    centred = np.array([[[9.0, 5.0], [3.0, 13.0], [7.0, 7.0]]])
    maps = keypoint_heatmaps(centred, np.ones((1, 3)), 8, stride=2, sigma=1.0)
    np.testing.assert_allclose(argmax_keypoints(maps, 2)[0][0], centred[0])
    np.testing.assert_allclose(soft_argmax_keypoints(maps, 2, beta=50.0)[0], centred[0], atol=0.05)
    with pytest.raises(ValueError, match="disagree"):
        keypoint_heatmaps(centred, np.ones((1, 2)), 8, 2)


def test_part_affinity_fields_and_limb_scores():
    keypoints = np.array([[[[2.0, 2.0], [12.0, 2.0], [12.0, 12.0]]]])  # one person, stride 1
    fields = part_affinity_fields(keypoints, np.ones((1, 1, 3)), ((0, 1), (1, 2)), 16, 1.0)
    assert fields.shape == (1, 16, 16, 4)
    np.testing.assert_allclose(fields[0, 2, 5, :2], [1.0, 0.0])  # on limb 0: unit +x
    np.testing.assert_allclose(fields[0, 7, 12, 2:], [0.0, 1.0])  # on limb 1: unit +y
    assert not fields[0, 10, 3].any()  # off both limbs
    field = fields[0, ..., :2]
    assert limb_score(field, (2.5, 2.5), (11.5, 2.5)) == pytest.approx(1.0)
    assert limb_score(field, (11.5, 2.5), (2.5, 2.5)) == pytest.approx(-1.0)
    assert limb_score(field, (2.5, 2.5), (2.5, 12.5)) < 0.2


def test_grouping_true_targets_recovers_both_people():
    images, kp, vis = stick_figures(6, 64, people=2, seed=5)
    maps = keypoint_heatmaps(kp, vis, 32, 2, max_over_people=True)
    fields = part_affinity_fields(kp, vis, LIMBS, 32, 2)
    correct = total = 0
    for i in range(6):
        people = group_people(maps[i], fields[i], LIMBS) * 2
        assert len(people) == 2
        for truth in kp[i]:
            error = np.nanmin(np.linalg.norm(people - truth[None], axis=-1), axis=0)
            ok = vis[i, 0] > 0
            correct += np.sum(error[ok] <= 2.0)
            total += ok.sum()
    assert correct / total > 0.9


def test_stick_figures_are_reproducible_and_labelled():
    a = stick_figures(4, 32, seed=2)
    b = stick_figures(4, 32, seed=2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    images, kp, vis = a
    assert images.shape == (4, 32, 32, 3) and kp.shape == (4, 1, len(JOINTS), 2)
    assert 0 <= images.min() and images.max() <= 1
    np.testing.assert_array_equal(vis, ((kp >= 0) & (kp < 32)).all(-1))
    with pytest.raises(ValueError, match="size >= 16"):
        stick_figures(2, 8)


def test_pose_network_output_layouts():
    hourglass = kerasdl.create_model("stacked_hourglass", input_shape=(32, 32, 3),
                                     num_keypoints=5, num_stacks=3, filters=8, depth=2, stride=4)
    assert hourglass.outputs[0].shape[1:] == (3, 8, 8, 5)
    paf = kerasdl.create_model("hourglass_paf", input_shape=(32, 32, 3), num_keypoints=5,
                               num_limbs=4, filters=8, depth=2, stride=2)
    assert paf.outputs[0].shape[1:] == (16, 16, 13)
    with pytest.raises(ValueError, match="stride"):
        kerasdl.create_model("hourglass_paf", stride=3)
