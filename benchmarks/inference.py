#!/usr/bin/env python
"""Inference: Keras, SavedModel and TFLite fp32 / fp16 / dynamic / int8 side by side — batch-1
latency (LiteRT, 1 and 2 threads), size, and accuracy on real held-out data — for MobileNetV2,
ResNet-18, the BiLSTM classifier and SSD.

Models are trained here first for a short budget (``--train-steps``; state it with the numbers:
the point is the *drop* from Keras to each export, not the absolute accuracy), or loaded from a
``.keras`` file with ``--load NAME=PATH``. Data: Fashion-MNIST (the CNNs: small-input forms,
28x28x1), Rotten Tomatoes (BiLSTM, the sentiment pipeline's vectoriser), MNIST-10k digit canvases
(SSD, mAP@0.5 VOC 11-point after decoding + per-class NMS of each variant's raw head outputs).
Keras: ``predict_on_batch``; SavedModel: its ``serve`` endpoint called from Python.

    python benchmarks/inference.py                                   # all four
    python benchmarks/inference.py --models ssd --load ssd=saved_models/detect_digits_ssd/model.keras
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from common import LOSS, fashion_images, machine, save_json
from kerasdl.tables import markdown_table  # noqa: E402
import kerasdl
from kerasdl.export import MODES, TFLiteRunner, convert, export_saved_model, latency, size_bytes
from kerasdl.export.bench import time_calls
from kerasdl.export.saved_model import serve
from kerasdl.train import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))

CNNS = {"mobilenet_v2": {"width": 0.5}, "resnet18": {"width": 0.25}}


# ------------------------------------------------------------------------------- tasks
class Task:
    """A trained model, its calibration inputs, test inputs, and a score of any predict()."""

    def __init__(self, model, calibration, x_test, score, unit="accuracy %"):
        self.model, self.calibration, self.x_test = model, calibration, x_test
        self.score, self.unit = score, unit


def _train(model, data, steps):
    trainer = Trainer(model, LOSS, keras.optimizers.Adam(2e-3), verbose=2, jit_compile=False)
    trainer.fit(data, epochs=1, steps_per_epoch=steps)
    trainer.close()


def accuracy_score(y):
    return lambda logits: 100.0 * float(np.mean(np.argmax(logits, -1) == y))


def cnn_task(name, steps, model=None, test=2000):
    from kerasdl.data.pipelines import from_arrays

    x, y = fashion_images(60000)
    if model is None:
        model = kerasdl.create_model(name, input_shape=(28, 28, 1), num_classes=10,
                                     small_input=True, **CNNS[name])
        flip = keras.layers.RandomFlip("horizontal", seed=0)
        _train(model, from_arrays(x, y, 64, training=True, augment=flip), steps)
    x_test, y_test = fashion_images(test, split="test")
    return Task(model, x[:200], x_test, accuracy_score(y_test))


def lstm_task(name, steps, model=None):
    import sentiment

    vectorizer, arrays = sentiment.load_data(fast=False)
    if model is None:
        model = kerasdl.create_model(name, **sentiment.MODEL_KWARGS[name], num_classes=2,
                                     vocab_size=vectorizer.vocabulary_size(),
                                     sequence_length=arrays["train"][0].shape[1])
        _train(model, sentiment.dataset(*arrays["train"], training=True), steps)
    x_test, y_test = arrays["test"]
    return Task(model, arrays["train"][0][:200], x_test, accuracy_score(y_test))


def ssd_task(name, steps, model=None, test=300):
    from kerasdl.data.canvases import canvas_dataset, canvases
    from kerasdl.detection.evaluation import mean_average_precision
    from kerasdl.detection.export import detection_module, valid_detections

    test_set = canvases("test", test, seed=1)
    if model is None:
        model = kerasdl.create_model(name, num_classes=10)
        train_set = canvases("train", 2000, seed=0)
        _train(model, canvas_dataset(train_set, model.batch_targets, 32, training=True), steps)
    truths = [{"boxes": b, "classes": c} for b, c in zip(test_set.boxes, test_set.classes)]

    # the pipeline's decoding and NMS settings (pipelines/detect_digits.py), on each variant's rows
    postprocess = tf.function(detection_module(model, max_detections=20, iou_threshold=0.5,
                                               score_threshold=0.05).postprocess)

    def score(raw):
        detections = [valid_detections(postprocess(tf.constant(row, tf.float32))) for row in raw]
        return 100.0 * mean_average_precision(detections, truths, 0.5, "voc11")["map"]

    images = test_set.images.astype(np.float32) / 255
    return Task(model, images[:200], images, score, "mAP@0.5 %")


TASKS = {"mobilenet_v2": cnn_task, "resnet18": cnn_task, "bilstm_classifier": lstm_task,
         "ssd": ssd_task}


# ----------------------------------------------------------------------------- variants
def keras_row(task, runs):
    x1 = task.x_test[:1]
    timing = time_calls(lambda: task.model.predict_on_batch(x1), runs)
    score = task.score(task.model.predict(task.x_test, batch_size=256, verbose=0))
    return {"variant": "Keras", "bytes": None, "ms_1_thread": None,
            "ms_default": timing["median_ms"], "score": score}


def saved_model_row(task, runs, directory):
    export_saved_model(task.model, directory)
    loaded = tf.saved_model.load(str(directory))  # keep it alive: serve uses its variables
    x1 = tf.constant(task.x_test[:1])
    timing = time_calls(lambda: loaded.serve(x1), runs)
    outputs = serve(directory, task.x_test)
    size = sum(f.stat().st_size for f in Path(directory).rglob("*") if f.is_file())
    return {"variant": "SavedModel", "bytes": size, "ms_1_thread": None,
            "ms_default": timing["median_ms"], "score": task.score(outputs)}


def tflite_row(task, mode, runs):
    try:
        blob = convert(task.model, mode, representative_data=task.calibration)
    except Exception as err:  # recorded, e.g. an op without an int8 kernel
        return {"variant": f"TFLite {mode}", "error": f"{type(err).__name__}: {str(err)[:200]}"}
    try:
        outputs = TFLiteRunner(blob, num_threads=2).predict(task.x_test)
        one, two = (latency(blob, threads, runs, sample=task.x_test[:1]) for threads in (1, 2))
    except Exception as err:  # converts but cannot run (missing kernel)
        return {"variant": f"TFLite {mode}", "bytes": size_bytes(blob),
                "error": f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:60]}"}
    return {"variant": f"TFLite {mode}", "bytes": size_bytes(blob),
            "ms_1_thread": one["median_ms"], "ms_default": two["median_ms"],
            "score": task.score(outputs)}


def benchmark(name, task, runs) -> list:
    rows = [keras_row(task, runs)]
    with tempfile.TemporaryDirectory(prefix="kerasdl-bench-") as tmp:
        rows.append(saved_model_row(task, runs, Path(tmp) / "saved_model"))
    rows += [tflite_row(task, mode, runs) for mode in MODES]
    for row in rows:
        row["model"] = name
        print(row, flush=True)
    return rows


def ratios(rows) -> dict:
    by = {r["variant"]: r for r in rows if "error" not in r}
    fp32, int8 = by.get("TFLite fp32"), by.get("TFLite int8")
    if not (fp32 and int8):
        return {}
    return {"int8_size_vs_fp32": int8["bytes"] / fp32["bytes"],
            "int8_latency_vs_fp32_1_thread": int8["ms_1_thread"] / fp32["ms_1_thread"],
            "int8_score_drop": by["Keras"]["score"] - int8["score"]}


def _cell(value, fmt):
    return "-" if value is None else format(value, fmt)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(TASKS))
    parser.add_argument("--train-steps", type=int, default=300,
                        help="training steps per model before measuring (batch 64; SSD 32)")
    parser.add_argument("--load", action="append", default=[], metavar="NAME=PATH",
                        help="use this trained .keras model instead of training one")
    parser.add_argument("--runs", type=int, default=100, help="timed batch-1 calls per variant")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    loaded = dict(item.split("=", 1) for item in args.load)
    names = args.models.split(",")
    unknown = sorted(set(names) - set(TASKS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(TASKS)}")

    print(machine())
    results = {}
    for name in names:
        model = kerasdl.load_model(loaded[name]) if name in loaded else None
        start = time.perf_counter()
        task = TASKS[name](name, args.train_steps, model)
        print(f"{name}: ready in {time.perf_counter() - start:.0f} s", flush=True)
        rows = benchmark(name, task, args.runs)
        results[name] = {"rows": rows, "ratios": ratios(rows), "unit": task.unit,
                         "trained_steps": 0 if name in loaded else args.train_steps}
    table = []
    for name, result in results.items():
        for r in result["rows"]:
            table.append([name, r["variant"], _cell(r.get("bytes") and r["bytes"] / 1e3, ".0f"),
                          _cell(r.get("ms_1_thread"), ".2f"), _cell(r.get("ms_default"), ".2f"),
                          r.get("error") or f"{r['score']:.2f} ({result['unit']})"])
    print(markdown_table(["model", "variant", "size KB", "ms (1 thread)",
                          "ms (2 threads / TF default)", "score"], table))
    print(markdown_table(
        ["model", "int8 size / fp32", "int8 latency / fp32 (1 thread)", "int8 score drop"],
        [[name, *(f"{r[k]:.3f}" for k in ("int8_size_vs_fp32", "int8_latency_vs_fp32_1_thread",
                                           "int8_score_drop"))]
         for name, r in ((n, res["ratios"]) for n, res in results.items()) if r]))
    save_json(args.json, results)


if __name__ == "__main__":
    main()
