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


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def corner_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def numpy_yolo_v1_loss(raw, truths, grid, b, l_coord=5.0, l_noobj=0.5):
    """Redmon et al. 2016, Eq. (3), by loops over cells and predictors; truths: {(row, col):
    (xyxy box, class)} in image-relative coordinates."""
    total, c = 0.0, raw.shape[-1] - 5
    for row in range(grid):
        for col in range(grid):
            rows = raw[(row * grid + col) * b:(row * grid + col + 1) * b]
            p = sigmoid(rows[:, :5])
            if (row, col) not in truths:
                total += l_noobj * np.sum(p[:, 4] ** 2)
                continue
            box, cls = truths[(row, col)]
            cx, cy = (box[0] + box[2]) / 2 * grid - col, (box[1] + box[3]) / 2 * grid - row
            w, h = box[2] - box[0], box[3] - box[1]
            ious = []
            for k in range(b):
                px, py = (col + p[k, 0]) / grid, (row + p[k, 1]) / grid
                pw, ph = p[k, 2] ** 2, p[k, 3] ** 2
                ious.append(corner_iou([px - pw / 2, py - ph / 2, px + pw / 2, py + ph / 2], box))
            r = int(np.argmax(ious))
            total += l_coord * ((cx - p[r, 0]) ** 2 + (cy - p[r, 1]) ** 2)
            total += l_coord * ((np.sqrt(w) - p[r, 2]) ** 2 + (np.sqrt(h) - p[r, 3]) ** 2)
            total += (ious[r] - p[r, 4]) ** 2
            total += sum(l_noobj * p[k, 4] ** 2 for k in range(b) if k != r)
            probs = np.exp(rows[0, 5:]) / np.exp(rows[0, 5:]).sum()
            total += np.sum((np.eye(c)[cls] - probs) ** 2)
    return total


def test_yolo_v1_loss_matches_numpy_on_a_hand_example():
    from kerasdl.detection.yolo_v1 import YOLOv1Loss, yolo_v1_targets

    grid, b, c = 3, 2, 4
    boxes = np.array([[0.05, 0.1, 0.3, 0.5], [0.4, 0.45, 0.9, 0.95]], "float32")  # cells (0,0), (2,1)
    targets = yolo_v1_targets(grid, b, boxes, [2, 0])
    assert targets.shape == (grid * grid * b, 5)
    np.testing.assert_allclose(targets[0], [0.175 * 3, 0.3 * 3, 0.25, 0.4, 3], rtol=1e-6)
    raw = np.random.default_rng(3).normal(size=(grid * grid * b, 5 + c)).astype("float32")
    for k in range(grid * grid):  # one class distribution per cell
        raw[k * b + 1, 5:] = raw[k * b, 5:]
    got = float(YOLOv1Loss(reduction=None)(targets[None], raw[None])[0])
    ref = numpy_yolo_v1_loss(raw, {(0, 0): (boxes[0], 2), (2, 1): (boxes[1], 0)}, grid, b)
    assert got == pytest.approx(ref, rel=1e-5)


def test_yolo_v1_decode_inverts_the_targets():
    from kerasdl.detection.yolo_v1 import decode_yolo_v1, yolo_v1_targets

    grid, b = 4, 2
    box = np.array([[0.3, 0.5, 0.5, 0.9]], "float32")
    t = yolo_v1_targets(grid, b, box, [1])
    logit = lambda v: np.log(v / (1 - v))  # noqa: E731
    raw = np.full((grid * grid * b, 7), -8.0, "float32")
    on = np.flatnonzero(t[:, 4] > 0)
    raw[on, :4] = logit(np.concatenate([t[on, :2], np.sqrt(t[on, 2:4])], -1))
    raw[on, 4], raw[on, 5 + 1] = 8.0, 8.0
    boxes, scores, classes = (np.asarray(v) for v in decode_yolo_v1(raw, grid, b))
    best = int(np.argmax(scores))
    np.testing.assert_allclose(boxes[best], box[0], atol=1e-5)
    assert classes[best] == 1 and best in on


def smooth_l1(d):
    d = np.abs(d)
    return np.where(d < 1, 0.5 * d * d, d - 0.5)


def ssd_offsets(anchor, box):
    (ax, ay), (aw, ah) = (anchor[:2] + anchor[2:]) / 2, anchor[2:] - anchor[:2]
    (bx, by), (bw, bh) = (box[:2] + box[2:]) / 2, box[2:] - box[:2]
    return np.array([(bx - ax) / aw / 0.1, (by - ay) / ah / 0.1, np.log(bw / aw) / 0.2,
                     np.log(bh / ah) / 0.2])


def test_rpn_targets_follow_faster_rcnn_rule():
    from kerasdl.detection.two_stage import rpn_targets

    gt = np.array([[0.1, 0.1, 0.5, 0.5]], "float32")
    anchors = np.array([[0.1, 0.1, 0.5, 0.5],     # IoU 1: positive
                        [0.1, 0.1, 0.5, 0.45],    # IoU 0.875 >= 0.7: positive
                        [0.1, 0.1, 0.5, 0.3],     # IoU 0.5: ignored
                        [0.6, 0.6, 0.9, 0.9]], "float32")  # IoU 0: negative
    t = rpn_targets(anchors, gt)
    np.testing.assert_array_equal(t[:, 4], [1, 1, -1, 0])
    np.testing.assert_allclose(t[1, :4], ssd_offsets(anchors[1], gt[0]), atol=1e-5)
    np.testing.assert_array_equal(t[2:, :4], 0)


def test_two_stage_loss_matches_numpy():
    """RPN: balanced BCE + smooth-L1 of positives; head: CE over proposals + smooth-L1 of those with
    IoU >= 0.5 to their best box — by loops over the rows."""
    from kerasdl.detection.two_stage import TwoStageLoss, two_stage_targets

    rng = np.random.default_rng(4)
    anchors = np.array([[0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 0.5, 0.45], [0.1, 0.1, 0.5, 0.3],
                        [0.6, 0.6, 0.9, 0.9], [0.5, 0.5, 0.95, 0.95], [0.0, 0.6, 0.3, 0.95]],
                       "float32")
    gt, classes, r, c = np.array([[0.1, 0.1, 0.5, 0.5], [0.55, 0.6, 0.9, 0.95]], "float32"), [2, 0], 4, 3
    y = two_stage_targets(anchors, r, [gt], [classes])[0]
    proposals = np.array([[0.12, 0.1, 0.5, 0.48], [0.0, 0.0, 0.2, 0.2], [0.5, 0.6, 0.9, 0.9],
                          [0.3, 0.3, 0.6, 0.6]], "float32")
    pred = rng.normal(size=(len(anchors) + r, 9 + c)).astype("float32")
    pred[:len(anchors), 5:] = 0
    pred[len(anchors):, :4] = proposals
    got = float(TwoStageLoss(reduction=None)(y[None], pred[None])[0])

    bce = lambda z, t: np.log1p(np.exp(-z)) if t else np.log1p(np.exp(z))  # noqa: E731
    labels = y[:len(anchors), 4]
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    rpn = np.mean([bce(pred[a, 4], 1) for a in pos]) + np.mean([bce(pred[a, 4], 0) for a in neg])
    rpn += np.mean([smooth_l1(y[a, :4] - pred[a, :4]).sum() for a in pos])
    ce, box = [], []
    for k, p in enumerate(proposals):
        ious = [corner_iou(p, g) for g in gt]
        g = int(np.argmax(ious))
        label = classes[g] + 1 if ious[g] >= 0.5 else 0
        logits = pred[len(anchors) + k, 8:]
        ce.append(np.log(np.exp(logits).sum()) - logits[label])
        if label:
            box.append(smooth_l1(ssd_offsets(p, gt[g]) - pred[len(anchors) + k, 4:8]).sum())
    assert len(box) == 2 and len(neg) > 0  # proposals 0 and 2 are foreground
    assert got == pytest.approx(rpn + np.mean(ce) + np.mean(box), rel=1e-4)


def test_box_aware_augmentation_keeps_digits_inside_their_boxes():
    from kerasdl.data.canvases import canvases
    from kerasdl.detection.augment import augment_boxes

    data = canvases("test", 24)
    images, boxes, classes = augment_boxes(data.images, data.boxes, data.classes, translate=0.15,
                                           zoom=0.2, flip=True, seed=5)
    size = images.shape[1]
    assert images.shape == data.images.shape and images.dtype == np.uint8
    moved = 0
    for image, b, c, b0 in zip(images, boxes, classes, data.boxes):
        ys, xs = np.nonzero(image[..., 0] >= 160)  # clear ink after bilinear resampling
        inside = np.zeros(len(ys), bool)
        for box in b * size:  # 1-px tolerance for interpolation at the box edges
            inside |= (xs >= box[0] - 1) & (xs < box[2] + 1) & (ys >= box[1] - 1) & (ys < box[3] + 1)
        assert inside.all(), f"{(~inside).sum()} ink pixels outside every box"
        assert len(b) == len(c) and np.all((b >= 0) & (b <= 1))
        moved += len(b) == len(b0) and not np.allclose(b, b0)
    assert moved > len(images) // 2  # the boxes did move with the images
    with pytest.raises(ValueError, match="at least one"):
        augment_boxes(data.images, data.boxes, data.classes, translate=0, zoom=0)


def numpy_nms(boxes, scores, threshold):
    order, keep = list(np.argsort(-scores, kind="stable")), []
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [j for j in order if corner_iou(boxes[i], boxes[j]) <= threshold]
    return keep


def test_region_proposals_are_decoded_anchors_after_nms():
    from kerasdl.detection.anchors import decode_offsets, multibox_anchors
    from kerasdl.detection.two_stage import RegionProposals

    layer = RegionProposals((4, 4), (0.3, 0.5), (1.0, 0.5), num_proposals=6, iou_threshold=0.5)
    rng = np.random.default_rng(6)
    raw = rng.normal(0, 0.5, (2, 48, 5)).astype("float32")
    got = np.asarray(layer(raw))
    anchors = multibox_anchors((4, 4), (0.3, 0.5), (1.0, 0.5))
    for b in range(2):
        boxes = np.clip(np.asarray(decode_offsets(anchors, raw[b, :, :4])), 0, 1)
        keep = numpy_nms(boxes, raw[b, :, 4], 0.5)[:6]
        np.testing.assert_allclose(got[b, :len(keep)], boxes[keep], atol=1e-5)
    with pytest.raises(ValueError, match="num_proposals"):
        RegionProposals((2, 2), (0.3,), (1.0,), num_proposals=5)


@pytest.mark.parametrize("name", ["yolo_v1", pytest.param("faster_rcnn", marks=pytest.mark.slow),
                                  pytest.param("rfcn", marks=pytest.mark.slow)])
def test_detector_tflite_with_nms_inside_matches_tf(name):
    """Batch-1 TFLite of the raw network (parity <= 1e-4) and the NMS-inside detector, built-ins
    only, equal to the TF graph (two-stage: the dynamic-batch flatbuffer converts, but the
    interpreter rejects the batched NMS loop, see docs/detection.md)."""
    from contract import small_model
    from kerasdl.detection.export import convert_detector, detection_module, run_tflite_detector
    from kerasdl.export import check_builtin_ops, convert, parity

    model = small_model(name)
    x = np.random.default_rng(7).random((4, *model.inputs[0].shape[1:]), dtype=np.float32)
    if name != "yolo_v1":  # yolo_v1's raw network is in the contract (dynamic batch)
        raw = convert(model, "fp32", batch_size=1)
        assert "WHILE" in check_builtin_ops(raw)
        assert parity(model, raw, x)["max_abs_error"] <= 1e-4
    module = detection_module(model, max_detections=8, score_threshold=0.0)
    flatbuffer = convert_detector(module)
    assert "NON_MAX_SUPPRESSION_V5" in check_builtin_ops(flatbuffer)
    ref = {k: v.numpy() for k, v in module.detect(x[:1]).items()}
    got = run_tflite_detector(flatbuffer, x[:1])
    assert int(got["num_detections"]) == int(ref["num_detections"]) > 0
    np.testing.assert_allclose(got["boxes"], ref["boxes"], atol=1e-4)
    np.testing.assert_allclose(got["scores"], ref["scores"], atol=1e-4)
    np.testing.assert_array_equal(got["classes"], ref["classes"])


@pytest.mark.slow
@pytest.mark.parametrize("script, args, folders", [
    ("detect_digits.py", ["--models", "faster_rcnn,yolo_v1", "--augment", "1"],
     ["detect_digits_faster_rcnn", "detect_digits_yolo_v1"]),
    ("detect_nuclei.py", [], ["detect_nuclei_faster_rcnn"])])
def test_two_stage_pipelines_fast(tmp_path, script, args, folders):
    import json
    import subprocess
    import sys

    subprocess.run([sys.executable, f"pipelines/{script}", "--fast", "--out-dir", str(tmp_path),
                    *args], check=True, timeout=1200)
    for name in folders:
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        assert 0 <= metrics["map50_voc11"] <= 1 and 0 <= metrics["coco_map_50_95"] <= 1
        assert metrics["raw_fp32_max_abs_error"] <= 1e-4
        assert metrics["detector_box_max_abs_error"] <= 1e-4
