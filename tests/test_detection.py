"""Detection primitives against independent computations: brute-force box geometry, the
curriculum's numpy NMS, d2l's published anchor-labelling example, pycocotools' COCOeval, closed
forms of the losses; canvases; the NMS-inside TFLite export."""
import keras
import numpy as np
import pytest

from kerasdl.detection import anchors as A
from kerasdl.detection.boxes import convert, pairwise_giou, pairwise_iou
from kerasdl.detection.evaluation import average_precision, coco_map, mean_average_precision
from kerasdl.detection.nms import nms, padded_nms, soft_nms
from kerasdl.detection.yolo import anchor_cells, decode_yolo, yolo_targets


def random_boxes(rng, n, low=0.05, high=0.4):
    xy = rng.random((n, 2)) * 0.6
    return np.concatenate([xy, xy + rng.uniform(low, high, (n, 2))], 1).astype("float32")


def brute_iou_giou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union, inter / union - (hull - union) / hull


def test_iou_and_giou_match_brute_force_and_keras():
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 7), random_boxes(rng, 5)
    ref = np.array([[brute_iou_giou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(pairwise_iou(a, b), ref[..., 0], atol=1e-6)
    np.testing.assert_allclose(pairwise_giou(a, b), ref[..., 1], atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pairwise_iou(keras.ops.array(a), b)),
                               ref[..., 0], atol=1e-6)  # the graph (keras.ops) path
    np.testing.assert_allclose(keras.utils.bounding_boxes.compute_iou(a, b, "xyxy"), ref[..., 0],
                               atol=1e-6)
    assert pairwise_giou(np.array([[0, 0, 1, 1.]]), np.array([[2, 0, 3, 1.]]))[0, 0] == pytest.approx(-1 / 3)


def test_box_format_conversion_and_errors():
    box = np.array([[10.0, 20.0, 30.0, 60.0]])
    np.testing.assert_allclose(convert(box, "xyxy", "xywh"), [[10, 20, 20, 40]])
    np.testing.assert_allclose(convert(box, "xyxy", "center_xywh"), [[20, 40, 20, 40]])
    with pytest.raises(ValueError, match="last dimension of 4"):
        pairwise_iou(np.zeros((2, 3)), np.zeros((2, 4)))


def test_anchors_follow_the_curriculum_rule():
    """Notes 003: n sizes × m ratios -> n + m − 1 anchors per pixel, (s_i, r_1) then (s_1, r_j)."""
    sizes, ratios = (0.75, 0.5, 0.25), (1.0, 2.0, 0.5)
    anchors = A.multibox_anchors((2, 3), sizes, ratios)
    assert anchors.shape == (2 * 3 * 5, 4)
    w, h = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    pairs = [(0.75, 1), (0.5, 1), (0.25, 1), (0.75, 2), (0.75, 0.5)]
    np.testing.assert_allclose(w[:5] * h[:5], [s * s for s, _ in pairs], rtol=1e-5)
    np.testing.assert_allclose(w[:5] / h[:5], [r for _, r in pairs], rtol=1e-5)
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    np.testing.assert_allclose(centres[5 * 4], [(1 + 0.5) / 3, (1 + 0.5) / 2], atol=1e-6)  # pixel (1, 1)
    with pytest.raises(ValueError, match="positive"):
        A.multibox_anchors((2, 2), (), (1.0,))


def test_anchor_labelling_and_offsets_reproduce_d2l_example():
    """d2l 13.4.3 (the curriculum's anchor chapter): labels [0, 1, 2, 0, 2] and its offsets."""
    truth = np.array([[0.1, 0.08, 0.52, 0.92], [0.55, 0.2, 0.9, 0.88]])
    anchors = np.array([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4], [0.63, 0.05, 0.88, 0.98],
                        [0.66, 0.45, 0.8, 0.8], [0.57, 0.3, 0.92, 0.9]], "float32")
    targets = A.multibox_targets(anchors, [truth], [[0, 1]])[0]
    np.testing.assert_array_equal(targets[:, 4], [0, 1, 2, 0, 2])
    published = [0, 0, 0, 0, 1.40, 10.0, 2.59, 7.18, -1.20, 0.269, 1.68, -1.57, 0, 0, 0, 0,
                 -0.571, -1.00, 4.17e-06, 0.626]
    np.testing.assert_allclose(targets[:, :4].reshape(-1), published, atol=6e-3)


def test_offsets_round_trip_and_closed_form():
    rng = np.random.default_rng(1)
    anchors, boxes = random_boxes(rng, 6), random_boxes(rng, 6)
    offsets = np.asarray(A.encode_offsets(anchors, boxes))
    ca, wa = (anchors[:, :2] + anchors[:, 2:]) / 2, anchors[:, 2:] - anchors[:, :2]
    cb, wb = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
    expected = np.concatenate([(cb - ca) / wa / 0.1, np.log(wb / wa) / 0.2], 1)
    np.testing.assert_allclose(offsets, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(A.decode_offsets(anchors, offsets), boxes, atol=1e-5)


def test_yolo_targets_pick_the_cell_and_best_shape_and_decode_back():
    shapes, sizes, ratios = [(4, 4), (2, 2)], [(0.2, 0.3), (0.5, 0.6)], (1.0, 0.5)
    anchors = A.level_anchors(shapes, sizes, ratios)
    cells = anchor_cells(shapes, 3)
    box = np.array([[0.30, 0.55, 0.42, 0.85]], "float32")  # centre (0.36, 0.70): cell (row 2, col 1)
    t = yolo_targets(anchors, cells, box, [4])
    (a,) = np.nonzero(t[:, 4] > 0)
    assert t[a[0], 4] == 5
    w, h = 0.12, 0.30
    shape_iou = [min(w, aw) * min(h, ah) / (w * h + aw * ah - min(w, aw) * min(h, ah))
                 for aw, ah in anchors[:, 2:] - anchors[:, :2]]
    centre = (anchors[:, :2] + anchors[:, 2:]) / 2
    inside = np.all(np.abs(centre - [0.36, 0.70]) <= cells / 2, 1)
    assert a[0] == np.argmax(np.where(inside, shape_iou, -1))
    raw = np.concatenate([np.log(t[:, :2] / (1 - t[:, :2] + 1e-12) + 1e-12), t[:, 2:4]], 1)
    np.testing.assert_allclose(np.asarray(decode_yolo(anchors, cells, raw))[a[0]], box[0], atol=1e-4)


def curriculum_nms(bboxes, scores, thresh=0.5):
    """notes 001 "NMS 原理及代码实现", ``single_nms``, with continuous areas (the notes' "+1"
    pixel convention dropped, as in TF and COCO)."""
    x1, y1, x2, y2 = bboxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        xx1, yy1 = np.maximum(x1[i], x1[order[1:]]), np.maximum(y1[i], y1[order[1:]])
        xx2, yy2 = np.minimum(x2[i], x2[order[1:]]), np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1) * np.maximum(0.0, yy2 - yy1)
        iou = inter / (areas[i] + areas[order[1:]] - inter)
        inds = np.where(iou <= thresh)[0]
        order = order[inds + 1]
    return keep


def test_nms_matches_the_curriculum_numpy_nms():
    rng = np.random.default_rng(2)
    boxes = random_boxes(rng, 60, 0.1, 0.3)
    scores = rng.random(60).astype("float32")
    for threshold in (0.3, 0.5, 0.7):
        np.testing.assert_array_equal(nms(boxes, scores, threshold, 60).numpy(),
                                      curriculum_nms(boxes, scores, threshold))


def test_soft_nms_matches_gaussian_reference():
    rng = np.random.default_rng(3)
    boxes, scores = random_boxes(rng, 30, 0.1, 0.3), rng.random(30).astype("float32")
    sigma, scores_left, kept = 0.5, scores.astype(float).copy(), []
    alive = np.ones(30, bool)
    while alive.any():
        i = int(np.argmax(np.where(alive, scores_left, -1)))
        if scores_left[i] < 0.05:
            break
        kept.append((i, scores_left[i]))
        alive[i] = False
        iou = np.asarray(pairwise_iou(boxes[i:i + 1], boxes))[0]
        scores_left = np.where(alive, scores_left * np.exp(-iou ** 2 / (2 * sigma)), scores_left)
    index, rescored = soft_nms(boxes, scores, sigma, 30, score_threshold=0.05)
    np.testing.assert_array_equal(index.numpy(), [i for i, _ in kept])
    np.testing.assert_allclose(rescored.numpy(), [s for _, s in kept], rtol=1e-5)


def test_padded_nms_is_per_class_nms():
    rng = np.random.default_rng(4)
    boxes, scores = random_boxes(rng, 40, 0.1, 0.3), rng.random(40).astype("float32")
    classes = rng.integers(0, 3, 40)
    out_boxes, out_scores, out_classes, valid = padded_nms(boxes, scores, classes, 40, 0.4, 0.2)
    expected = []
    for c in range(3):
        idx = np.nonzero((classes == c) & (scores >= 0.2))[0]
        expected += [idx[k] for k in curriculum_nms(boxes[idx], scores[idx], 0.4)]
    expected = sorted(expected, key=lambda i: -scores[i])
    n = int(valid)
    assert n == len(expected)
    np.testing.assert_allclose(out_boxes[:n], boxes[expected], atol=1e-6)
    np.testing.assert_array_equal(out_classes[:n], classes[expected])
    assert not np.any(out_scores[n:].numpy())


def random_detections(seed, images=40, classes=3):
    rng = np.random.default_rng(seed)
    detections, truths = [], []
    for _ in range(images):
        n = int(rng.integers(1, 5))
        boxes, labels = random_boxes(rng, n), rng.integers(0, classes, n)
        truths.append({"boxes": boxes, "classes": labels})
        pick = rng.integers(0, n, int(rng.integers(0, 8)))
        noisy = boxes[pick] + rng.normal(0, 0.03, (len(pick), 4))
        noisy[:, 2:] = np.maximum(noisy[:, 2:], noisy[:, :2] + 0.01)  # COCOeval ignores w, h < 0
        wrong = rng.random(len(pick)) < 0.2
        detections.append({"boxes": noisy, "scores": rng.random(len(pick)),
                           "classes": np.where(wrong, rng.integers(0, classes, len(pick)), labels[pick])})
    return detections, truths


@pytest.mark.parametrize("seed", [0, 1])
def test_map_matches_pycocotools(seed):
    from kerasdl.detection.coco import cocoeval

    detections, truths = random_detections(seed)
    reference = cocoeval(detections, truths, image_size=64)
    ours = coco_map(detections, truths)
    for key in ("map", "map50", "map75"):
        assert ours[key] == pytest.approx(reference[key], abs=1e-9)
    # VOC 11-point = COCOeval's interpolated precision at recall 0, 0.1, ..., 1 (IoU 0.5).
    precision = reference["precision"][0, ::10, :, 0, 2]  # [11 recalls, K], all areas, 100 dets
    voc11 = mean_average_precision(detections, truths, 0.5, "voc11")
    assert voc11["map"] == pytest.approx(precision.mean(0)[precision.min(0) > -1].mean(), abs=1e-9)


def test_average_precision_closed_forms():
    # detections TP, FP, TP of 2 ground-truth boxes: recall .5 .5 1, precision 1 .5 .667
    recall, precision = [0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]
    assert average_precision(recall, precision, "all") == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert average_precision(recall, precision, "voc11") == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)
    with pytest.raises(ValueError, match="unknown AP method"):
        average_precision(recall, precision, "voc07")
    with pytest.raises(KeyError, match="scores"):
        mean_average_precision([{"boxes": np.zeros((1, 4)), "classes": [0]}],
                               [{"boxes": np.zeros((1, 4)), "classes": [0]}])


def test_smooth_l1_and_focal_closed_forms():
    from kerasdl.losses import SmoothL1, smooth_l1

    d = np.array([[-2.0, -0.5, 0.0, 0.3, 1.5]], "float32")
    for beta in (1.0, 0.5):
        expected = np.where(np.abs(d) < beta, 0.5 * d ** 2 / beta, np.abs(d) - 0.5 * beta)
        np.testing.assert_allclose(smooth_l1(np.zeros_like(d), d, beta), expected, rtol=1e-6)
    assert float(SmoothL1()(np.zeros_like(d), d)) == pytest.approx(np.mean(
        np.where(np.abs(d) < 1, 0.5 * d ** 2, np.abs(d) - 0.5)), rel=1e-6)
    logit, y, gamma = 0.8, 1.0, 2.0  # Keras' focal loss is what YOLOLoss uses: check its formula
    p = 1 / (1 + np.exp(-logit))
    focal = keras.losses.binary_focal_crossentropy(np.array([[y]]), np.array([[logit]]), gamma=gamma,
                                                   from_logits=True)
    assert float(focal[0]) == pytest.approx(-(1 - p) ** gamma * np.log(p), rel=1e-5)


def test_multibox_loss_matches_numpy_with_hard_negatives():
    from kerasdl.detection.losses import MultiBoxLoss

    rng = np.random.default_rng(5)
    y_pred = rng.normal(size=(2, 12, 4 + 3)).astype("float32")
    y_true = np.zeros((2, 12, 5), "float32")
    y_true[..., :4] = rng.normal(size=(2, 12, 4))
    y_true[0, [1, 4], 4] = [1, 2]
    y_true[1, 7, 4], y_true[1, 3, 4] = 2, -1  # one positive, one ignored anchor
    got = MultiBoxLoss(negative_ratio=3, reduction=None)(y_true, y_pred).numpy()
    logits = y_pred[..., 4:]
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    for b in range(2):
        labels = y_true[b, :, 4].astype(int)
        ce = -log_p[b, np.arange(12), np.maximum(labels, 0)]
        pos, neg = labels > 0, labels == 0
        hard = np.argsort(-np.where(neg, ce, -1))[:3 * pos.sum()]
        d = np.abs(y_true[b, pos, :4] - y_pred[b, pos, :4])
        box = np.where(d < 1, 0.5 * d ** 2, d - 0.5).sum()
        assert got[b] == pytest.approx((ce[pos].sum() + ce[hard].sum() + box) / pos.sum(), rel=1e-5)


def test_canvases_protocol():
    from kerasdl.data.canvases import compose

    rng = np.random.default_rng(6)
    sources = (rng.random((20, 12, 12)) > 0.6).astype("float32")
    labels = np.arange(20) % 10
    a = compose(sources, labels, 30, size=32, max_objects=3, scale=(1.0, 1.5), seed=7)
    b = compose(sources, labels, 30, size=32, max_objects=3, scale=(1.0, 1.5), seed=7)
    np.testing.assert_array_equal(a.images, b.images)
    for boxes, classes, imap in zip(a.boxes, a.classes, a.instance_maps):
        assert 1 <= len(boxes) <= 3 and len(classes) == len(boxes)
        assert np.all((boxes >= 0) & (boxes <= 1)) and np.all(boxes[:, 2:] > boxes[:, :2])
        iou = pairwise_iou(boxes, boxes)[~np.eye(len(boxes), dtype=bool)]
        assert np.all(iou <= 0.3)
        for i, box in enumerate(boxes * 32):
            ys, xs = np.nonzero(imap == i + 1)
            assert np.all((xs >= box[0]) & (xs < box[2]) & (ys >= box[1]) & (ys < box[3]))
    assert set(np.unique(a.instance_maps)) <= {0, 1, 2, 3}
    with pytest.raises(ValueError, match="do not fit"):
        compose(sources, labels, 1, size=16, scale=(1.0, 2.0))


class _FixedDraws:
    """Stands in for a numpy Generator: ``uniform`` returns the given values in order."""

    def __init__(self, *values):
        self.values = list(values)

    def uniform(self, low, high, size=None):
        return self.values.pop(0)


def test_distort_image_rotates_and_scales_about_the_centre():
    from kerasdl.data.canvases import compose, distort_image

    bar = np.zeros((29, 29), np.float32)
    bar[14, 4:25] = 1.0  # a horizontal bar through the centre pixel

    def axis_and_length(image):
        ys, xs = np.nonzero(image > 0.25)
        w = image[ys, xs]
        cy, cx = np.average(ys, weights=w), np.average(xs, weights=w)
        cov = np.cov(np.stack([xs - cx, ys - cy]), aweights=w)
        vx, vy = np.linalg.eigh(cov)[1][:, -1]
        return np.degrees(np.arctan2(vy, vx)) % 180, (cy, cx), np.sqrt(12 * np.linalg.eigvalsh(cov)[-1])

    assert np.array_equal(distort_image(bar, np.random.default_rng(0), 0.0), bar)
    angle, centre, _ = axis_and_length(distort_image(bar, _FixedDraws(20.0, 0.0, np.zeros(2))))
    assert min(angle, 180 - angle) == pytest.approx(20, abs=1.5)
    np.testing.assert_allclose(centre, (14, 14), atol=0.3)
    _, _, length = axis_and_length(distort_image(bar, _FixedDraws(0.0, 0.0, np.full(2, 0.15))))
    _, _, plain = axis_and_length(bar)
    assert length / plain == pytest.approx(1.15, abs=0.05)

    sources = np.zeros((10, 12, 12), np.float32)
    sources[:, 3:9, 5:7] = 1.0
    plain_canvases = compose(sources, np.arange(10), 8, size=32, seed=3, scale=(1.0, 1.5))
    distorted = compose(sources, np.arange(10), 8, size=32, seed=3, scale=(1.0, 1.5), distort=1.0)
    assert not np.array_equal(plain_canvases.images, distorted.images)
    for boxes, imap in zip(distorted.boxes, distorted.instance_maps):
        for i, box in enumerate(boxes * 32):
            ys, xs = np.nonzero(imap == i + 1)
            assert np.all((xs >= box[0]) & (xs < box[2]) & (ys >= box[1]) & (ys < box[3]))
    with pytest.raises(ValueError, match="distort"):
        compose(sources, np.arange(10), 1, distort=-1.0)


@pytest.mark.parametrize("name", ["ssd", pytest.param("yolo_v3", marks=pytest.mark.slow)])
def test_tflite_detector_with_nms_inside_matches_tf(name):
    """Decode + per-class NMS inside the TFLite model, built-in ops only, equal to the TF graph."""
    from contract import small_model
    from kerasdl.detection.export import convert_detector, detection_module, run_tflite_detector
    from kerasdl.export import check_builtin_ops

    model = small_model(name)
    module = detection_module(model, max_detections=10, score_threshold=0.0)
    flatbuffer = convert_detector(module)  # raises on any Flex/custom op
    assert "NON_MAX_SUPPRESSION_V5" in check_builtin_ops(flatbuffer)
    image = np.random.default_rng(8).random((1, *model.inputs[0].shape[1:]), dtype=np.float32)
    ref = {k: v.numpy() for k, v in module.detect(image).items()}
    got = run_tflite_detector(flatbuffer, image)
    assert int(got["num_detections"]) == int(ref["num_detections"]) > 0
    np.testing.assert_allclose(got["boxes"], ref["boxes"], atol=1e-4)
    np.testing.assert_allclose(got["scores"], ref["scores"], atol=1e-4)
    np.testing.assert_array_equal(got["classes"], ref["classes"])
    boxes, scores, classes = (np.asarray(v) for v in model.decode(model(image)[0]))
    keep = []
    for c in np.unique(classes):
        idx = np.nonzero(classes == c)[0]
        keep += [idx[k] for k in curriculum_nms(boxes[idx], scores[idx], 0.5)]
    keep = sorted(keep, key=lambda i: -scores[i])[:10]
    np.testing.assert_allclose(ref["boxes"][:len(keep)], boxes[keep], atol=1e-5)


@pytest.mark.slow
def test_detect_digits_pipeline_fast(tmp_path):
    import subprocess
    import sys

    subprocess.run([sys.executable, "pipelines/detect_digits.py", "--fast", "--out-dir",
                    str(tmp_path)], check=True, timeout=1200)
    import json

    for name in ("ssd", "yolo_v3"):
        folder = tmp_path / f"detect_digits_{name}"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert 0 <= metrics["map50_voc11"] <= 1 and 0 <= metrics["coco_map_50_95"] <= 1
        assert metrics["raw_fp32_max_abs_error"] <= 1e-4
        assert (folder / "detector.tflite").stat().st_size > 0


def test_copy_backbone_weights_seeds_the_detector_backbone():
    import kerasdl
    from kerasdl.models.detection.heads import copy_backbone_weights, nested_backbone

    small = {"input_shape": (32, 32, 1), "num_classes": 3, "head_channels": 8}
    detector = kerasdl.create_model("ssd", backbone_width=1 / 16, **small)
    classifier = kerasdl.create_model("resnet18", num_classes=3, input_shape=(32, 32, 1), width=1 / 16)
    x = np.random.default_rng(0).random((2, 32, 32, 1), np.float32)
    nested = nested_backbone(detector)
    before = nested(x)["stride8"]
    # to stride 16: stem (conv, BN) + 3 stages x 2 blocks x 2 (conv, BN) + 2 shortcuts x (conv, BN)
    assert copy_backbone_weights(detector, classifier) == 2 + 3 * 2 * 2 * 2 + 2 * 2
    after, reference = nested(x), classifier.backbone([8, 16])(x)
    for key in ("stride8", "stride16"):
        np.testing.assert_allclose(after[key], reference[key], atol=1e-6)
    assert not np.allclose(before, after["stride8"])
    wider = kerasdl.create_model("resnet18", num_classes=3, input_shape=(32, 32, 1), width=1 / 8)
    with pytest.raises(ValueError, match="same width"):
        copy_backbone_weights(detector, wider)
    with pytest.raises(ValueError, match="nested backbone"):
        copy_backbone_weights(classifier, classifier)


def test_detect_digits_pretraining_seeds_the_backbone(tmp_path):
    import argparse
    import sys

    sys.path.insert(0, "pipelines")
    import detect_digits
    from kerasdl.data.canvases import canvases

    args = argparse.Namespace(fast=True, batch_size=16, learning_rate=2e-3, epochs=1, resume=False,
                              pretrain_epochs=1, train_canvases=64, test_canvases=16, distort=0.0)
    model, info = detect_digits.train("ssd", canvases("train", 64), args, tmp_path)
    assert info["pretrain_epochs"] == 1 and 0 <= info["pretrain_test_digit_accuracy"] <= 1
    assert info["final_loss"] > 0 and (tmp_path / "pretrain_checkpoints").is_dir()


@pytest.mark.parametrize("name", ["ssd", "yolo_v3", "yolo_v1", "faster_rcnn", "rfcn"])
def test_every_detector_backbone_takes_classifier_weights(name):
    import kerasdl
    from kerasdl.models.detection.heads import (backbone_classifier, copy_backbone_weights,
                                                nested_backbone)
    from kerasdl.registry import MODELS

    detector = kerasdl.create_model(name, **MODELS.entry(name).info["small"])
    classifier = backbone_classifier(detector)
    nested = nested_backbone(detector)
    weighted = [layer for layer in nested.layers if layer.weights]
    assert copy_backbone_weights(detector, classifier) == len(weighted) > 0
    for layer in weighted:
        for mine, theirs in zip(layer.get_weights(), classifier.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)


def test_detect_digits_optimizer_and_bad_arguments(capsys):
    import sys

    sys.path.insert(0, "pipelines")
    import detect_digits

    assert type(detect_digits.optimizer(1e-3)) is keras.optimizers.Adam
    adamw = detect_digits.optimizer(1e-3, 0.05)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == pytest.approx(0.05)
    for flag in ("--weight-decay", "--pretrain-epochs"):
        with pytest.raises(SystemExit):
            detect_digits.main([flag, "-1"])
        assert f"{flag} must be >= 0" in capsys.readouterr().err
