"""Serving a single-stage detector with NMS inside the model, in TFLite built-in ops only.

``detection_module`` wraps a detector (``kerasdl.models.detection``) in a ``tf.Module`` whose
``detect(image [1, H, W, C])`` runs the network, decodes every anchor to its best class and score
(``model.decode``) and applies per-class NMS as one NonMaxSuppressionV5 op with fixed-size padded
outputs (``kerasdl.detection.nms.padded_nms``), which TFLite runs as its built-in
NON_MAX_SUPPRESSION_V5 (``tf.image.combined_non_max_suppression`` has no built-in and
``non_max_suppression_padded`` lowers to a while loop; neither is used). Outputs: ``boxes``
[K, 4] relative xyxy, ``scores`` [K], ``classes`` [K] (float class ids), ``num_detections``.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerasdl.detection.nms import padded_nms
from kerasdl.export.tflite import check_builtin_ops, convert_saved_model, float32_model
from kerasdl.io import atomic_replace_dir

OUTPUTS = ("boxes", "scores", "classes", "num_detections")


class DetectionModule:
    """``detect(image [1, H, W, C]) -> dict`` of OUTPUTS, a ``tf.function`` over the float32
    copy of ``model``."""

    def __init__(self, model, max_detections=20, iou_threshold=0.5, score_threshold=0.05):
        self.model = float32_model(model)
        self.max_detections, self.iou_threshold = int(max_detections), float(iou_threshold)
        self.score_threshold = float(score_threshold)
        self.spec = tf.TensorSpec([1, *self.model.inputs[0].shape[1:]], tf.float32, name="image")
        self.detect = tf.function(self._detect, input_signature=[self.spec])

    def _detect(self, image):
        return self.postprocess(self.model(image, training=False)[0])

    def postprocess(self, raw):
        """OUTPUTS from one image's raw network rows [A, 5 + C] (decode + per-class NMS), e.g.
        from a TFLite run of the raw network."""
        boxes, scores, classes = self.model.decode(raw)
        boxes, scores, classes, valid = padded_nms(boxes, scores, classes, self.max_detections,
                                                   self.iou_threshold, self.score_threshold)
        return dict(zip(OUTPUTS, (boxes, scores, classes, valid)))


def detection_module(model, **nms_options) -> DetectionModule:
    """The serving module of ``model`` (nms_options: max_detections, iou_threshold,
    score_threshold)."""
    if not hasattr(model, "decode"):
        raise TypeError(f"{type(model).__name__} is not an anchor detector (no decode())")
    return DetectionModule(model, **nms_options)


def save_detector(module: DetectionModule, path) -> str:
    """SavedModel whose ``serving_default`` signature is ``detect`` (Keras' ExportArchive)."""
    archive = keras.export.ExportArchive()
    archive.track(module.model)
    archive.add_endpoint("serving_default", module._detect, input_signature=[module.spec])
    atomic_replace_dir(lambda tmp: archive.write_out(str(tmp), verbose=False), path)
    return str(path)


def convert_detector(module: DetectionModule) -> bytes:
    """fp32 TFLite flatbuffer of ``detect``, built-in ops only (raises NonBuiltinOpError)."""
    with tempfile.TemporaryDirectory(prefix="kerasdl-detector-") as tmp:
        flatbuffer = convert_saved_model(save_detector(module, Path(tmp) / "saved_model"))
    check_builtin_ops(flatbuffer)
    return flatbuffer


def run_tflite_detector(flatbuffer, image) -> dict:
    """Outputs of the converted ``detect`` signature on one image [1, H, W, C] (numpy)."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=bytes(flatbuffer)).get_signature_runner("serving_default")
    out = runner(image=np.asarray(image, np.float32))
    return {k: np.asarray(out[k]) for k in OUTPUTS}


def detect_all(module: DetectionModule, images, min_score=0.0) -> list[dict]:
    """Per-image {"boxes", "scores", "classes"} of the valid detections (for evaluation)."""
    return [valid_detections(module.detect(image[None]), min_score)
            for image in np.asarray(images, np.float32)]


def valid_detections(outputs: dict, min_score=0.0) -> dict:
    """{"boxes", "scores", "classes" (int64)} of the first ``num_detections`` padded OUTPUTS
    scoring at least ``min_score``."""
    out = {k: np.asarray(v) for k, v in outputs.items()}
    n = int(out["num_detections"])
    keep = out["scores"][:n] >= min_score
    return {"boxes": out["boxes"][:n][keep], "scores": out["scores"][:n][keep],
            "classes": out["classes"][:n][keep].astype(np.int64)}
