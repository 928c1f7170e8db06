"""Write a deployable package ``<out_dir>/<name>/``: model.keras, saved_model/, *.tflite, metadata.json.

Everything is converted, op-checked, compared and timed before the first file is written, and
every file is written to a temporary name next to its target and then moved into place.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib import metadata as pkg_metadata
from pathlib import Path

import keras
import numpy as np

from kerasdl.export import bench
from kerasdl.export.saved_model import check_model, export_saved_model, serve
from kerasdl.export.tflite import (
    MODES,
    ParityError,
    check_builtin_ops,
    compare_outputs,
    convert_saved_model,
    float_layer_names,
    float32_model,
    input_dtype,
    input_shape,
    parity,
    representative_samples,
    serving_saved_model,
)
from kerasdl.io import atomic_path, atomic_write_bytes, atomic_write_text, to_json


def _validate(name, modes, threads, test_data, shape):
    if not name or not isinstance(name, str) or Path(name).name != name or name.startswith("."):
        raise ValueError(f"name must be a plain folder name, got {name!r}")
    modes = tuple(modes)
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown or len(set(modes)) != len(modes):
        raise ValueError(f"modes must be distinct values from {MODES}, got {modes}")
    threads = tuple(int(t) for t in threads)
    if not threads or min(threads) < 1:
        raise ValueError(f"threads must be positive integers, got {threads}")
    if test_data is None:
        return modes, threads, None, None
    x, y = test_data if isinstance(test_data, tuple) else (test_data, None)
    x = np.asarray(x)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError("test_data is empty")
    if x.ndim != len(shape) or tuple(x.shape[1:]) != tuple(shape[1:]):
        raise ValueError(f"test_data x must have shape {shape}, got {x.shape}")
    if y is not None and len(y) != len(x):
        raise ValueError(f"test_data x and y lengths differ: {len(x)} vs {len(y)}")
    return modes, threads, x, y


def _versions():
    import tensorflow as tf

    import kerasdl

    return {
        "kerasdl": kerasdl.__version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "ai_edge_litert": pkg_metadata.version("ai-edge-litert"),
    }


def export_model(
    model,
    name,
    *,
    out_dir="saved_models",
    modes=("fp32", "int8"),
    representative_data=None,
    test_data=None,
    metrics=None,
    threads=(1,),
    fp32_tolerance=1e-4,
    latency_runs=50,
) -> dict:
    """Export `model` to `out_dir/name/` and return the metadata written to `metadata.json`.

    Each TFLite mode is checked for built-in ops only (NonBuiltinOpError otherwise), compared
    with Keras on `test_data=(x, y)` (ParityError if fp32 max-abs error > `fp32_tolerance`) and
    timed at batch 1 for each thread count. Reduced-precision models are converted from their
    float32 rebuild (the reference for parity); the float32-vs-policy gap is reported apart.
    """
    check_model(model)
    shape = input_shape(model)
    modes, threads, x, y = _validate(name, modes, threads, test_data, shape)
    samples = (representative_samples(representative_data, shape, dtype=input_dtype(model))
               if "int8" in modes else None)

    reference = float32_model(model)
    with serving_saved_model(reference) as saved_model_dir:
        float_layers = float_layer_names(reference)
        blobs = {mode: convert_saved_model(saved_model_dir, mode, samples, float_layers)
                 for mode in modes}

    report = {}
    for mode, blob in blobs.items():
        entry = {
            "file": f"{name}_{mode}.tflite",
            "ops": check_builtin_ops(blob),
            "size_bytes": bench.size_bytes(blob),
            "size_ratio_vs_fp32": (
                len(blob) / len(blobs["fp32"]) if "fp32" in blobs else None
            ),
        }
        if x is not None:
            entry["parity"] = parity(reference, blob, x, y)
            error = entry["parity"]["max_abs_error"]
            if mode == "fp32" and error > fp32_tolerance:
                raise ParityError(
                    f"{name}: fp32 TFLite max-abs error {error:.3g} > tolerance {fp32_tolerance:g}"
                )
        entry["latency"] = {
            # on a real input when there is one: random ids would overflow an embedding table
            f"threads_{t}": bench.latency(blob, num_threads=t, runs=latency_runs, sample=x)
            for t in threads
        }
        report[mode] = entry

    target = Path(out_dir) / name
    target.mkdir(parents=True, exist_ok=True)
    with atomic_path(target / "model.keras") as tmp:
        model.save(tmp)
    export_saved_model(model, target / "saved_model")
    for mode, blob in blobs.items():
        atomic_write_bytes(target / report[mode]["file"], blob)

    meta = {
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "input_shape": list(shape),
        "output_shape": list(model.outputs[0].shape),
        "params": int(model.count_params()),
        "dtype_policy": model.dtype_policy.name,
        "tflite_converted_from": "model" if reference is model else "float32 rebuild",
        "metrics": dict(metrics or {}),
        "files": ["model.keras", "saved_model/"] + [report[m]["file"] for m in modes],
        "modes": report,
    }
    if x is not None:
        keras_out = model.predict(x, batch_size=256, verbose=0)
        meta["saved_model_parity"] = compare_outputs(
            keras_out, serve(target / "saved_model", x), y, names=("keras", "saved_model")
        )
        if reference is not model:
            meta["float32_vs_policy"] = compare_outputs(
                keras_out, reference.predict(x, batch_size=256, verbose=0), y,
                names=(model.dtype_policy.name, "float32"),
            )
    text = to_json(meta)
    atomic_write_text(target / "metadata.json", text)
    return json.loads(text)
