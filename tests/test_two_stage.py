"""RoI pooling / RoIAlign / PS-RoIAlign against numpy loops and the curriculum's example, the
two-stage and YOLO v1 losses against numpy computations, box-aware augmentation."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.detection import roi


def random_boxes(rng, b, r):
    xy = rng.uniform(0, 0.6, (b, r, 2))
    return np.concatenate([xy, np.minimum(xy + rng.uniform(0.05, 0.5, (b, r, 2)), 1)], -1).astype("float32")


def bilinear(fm, y, x):
    """torchvision's bilinear_interpolate (inside [-1, H]: clamp, then interpolate)."""
    h, w = fm.shape[:2]
    y, x = min(max(y, 0.0), h - 1.0), min(max(x, 0.0), w - 1.0)
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * fm[y0, x0] + (1 - ly) * lx * fm[y0, x1]
            + ly * (1 - lx) * fm[y1, x0] + ly * lx * fm[y1, x1])


def numpy_roi_align(fm, box, n, m, s):
    """Loops over bins and sampling points (Mask R-CNN, torchvision aligned=True)."""
    h, w = fm.shape[:2]
    x0, y0, x1, y1 = box[0] * w - 0.5, box[1] * h - 0.5, box[2] * w - 0.5, box[3] * h - 0.5
    bh, bw = (y1 - y0) / n, (x1 - x0) / m
    out = np.zeros((n, m, fm.shape[-1]))
    for i in range(n):
        for j in range(m):
            for a in range(s):
                for c in range(s):
                    out[i, j] += bilinear(fm, y0 + (i + (a + 0.5) / s) * bh,
                                          x0 + (j + (c + 0.5) / s) * bw) / (s * s)
    return out


def numpy_roi_pool(fm, box, n, m):
    """Fast R-CNN RoI max pooling, loops over bins (torchvision roi_pool)."""
    h, w = fm.shape[:2]
    xs, ys = round(box[0] * w), round(box[1] * h)
    xe, ye = round(box[2] * w), round(box[3] * h)
    rh, rw = max(ye - ys + 1, 1), max(xe - xs + 1, 1)
    out = np.zeros((n, m, fm.shape[-1]))
    for i in range(n):
        for j in range(m):
            h0 = min(max(math.floor(i * rh / n) + ys, 0), h)
            h1 = min(max(math.ceil((i + 1) * rh / n) + ys, 0), h)
            w0 = min(max(math.floor(j * rw / m) + xs, 0), w)
            w1 = min(max(math.ceil((j + 1) * rw / m) + xs, 0), w)
            if h1 > h0 and w1 > w0:
                out[i, j] = fm[h0:h1, w0:w1].max((0, 1))
    return out


def test_roi_align_matches_numpy_loops_and_crop_and_resize():
    rng = np.random.default_rng(0)
    fm = rng.normal(size=(2, 9, 7, 3)).astype("float32")
    boxes = random_boxes(rng, 2, 5)
    got = keras.ops.convert_to_numpy(roi.RoIAlign((3, 4), sampling_ratio=2)([fm, boxes]))
    ref = np.array([[numpy_roi_align(fm[b], boxes[b, r], 3, 4, 2) for r in range(5)] for b in range(2)])
    np.testing.assert_allclose(got, ref, atol=1e-5)
    # tf.image.crop_and_resize at the moved boxes, then s×s average pooling, is RoIAlign where
    # every sample lies between pixel centres (outside, it extrapolates 0 instead of clamping)
    boxes = 0.15 + 0.7 * boxes
    got = keras.ops.convert_to_numpy(roi.roi_align(fm, boxes, (3, 4), 2))
    moved = roi.crop_and_resize_boxes(boxes, (9, 7), (3, 4), 2).reshape(-1, 4)
    crops = tf.image.crop_and_resize(fm, moved, np.repeat(np.arange(2), 5), (6, 8))
    pooled = tf.nn.avg_pool2d(crops, 2, 2, "VALID").numpy().reshape(2, 5, 3, 4, 3)
    np.testing.assert_allclose(got, pooled, atol=1e-5)


def test_roi_max_pool_matches_numpy_and_the_curriculum_example():
    rng = np.random.default_rng(1)
    fm = rng.normal(size=(2, 8, 6, 2)).astype("float32")
    boxes = random_boxes(rng, 2, 6)
    got = keras.ops.convert_to_numpy(roi.RoIMaxPool(3)([fm, boxes]))
    ref = np.array([[numpy_roi_pool(fm[b], boxes[b, r], 3, 3) for r in range(6)] for b in range(2)])
    np.testing.assert_allclose(got, ref, atol=1e-6)
    # notes 003 / d2l 13.8: X = arange(16) as 4×4 features of a 40×40 image, boxes (0,0,20,20)
    # and (0,10,30,30) pooled to 2×2 -> [[5, 6], [9, 10]] and [[9, 11], [13, 15]]
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    out = roi.roi_max_pool(x, np.array([[[0, 0, 20, 20], [0, 10, 30, 30]]], "float32") / 40, 2)
    np.testing.assert_array_equal(np.asarray(out)[0, ..., 0], [[[5, 6], [9, 10]], [[9, 11], [13, 15]]])


def test_ps_roi_align_matches_numpy_loop():
    rng = np.random.default_rng(2)
    k, d = 3, 2
    fm = rng.normal(size=(1, 8, 8, k * k * d)).astype("float32")
    boxes = random_boxes(rng, 1, 4)
    got = keras.ops.convert_to_numpy(roi.PSRoIAlign(k, sampling_ratio=2)([fm, boxes]))
    ref = np.zeros((1, 4, k, k, d))
    for r in range(4):
        full = numpy_roi_align(fm[0], boxes[0, r], k, k, 2)  # every group at every bin
        for i in range(k):
            for j in range(k):
                ref[0, r, i, j] = full[i, j, (i * k + j) * d:(i * k + j + 1) * d]
    np.testing.assert_allclose(got, ref, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of k"):
        roi.ps_roi_align(fm[..., :5], boxes, k)


def test_roi_layers_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"boxes \[B, R, 4\]"):
        roi.roi_align(np.zeros((1, 4, 4, 1), "float32"), np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match="output_size"):
        roi.RoIAlign((0, 2))
