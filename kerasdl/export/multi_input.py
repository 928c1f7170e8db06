"""Package a multi-input model (a graph model: node features, edges, ...) like ``export_model``:
``<out_dir>/<name>/`` with model.keras, saved_model/, ``<name>_fp32.tflite`` and metadata.json.

The flatbuffer is op-checked (built-ins only) and compared with Keras on real inputs (fp32
parity within ``fp32_tolerance``) before anything is written; its inputs keep the Keras input
names (a device feeds them by name through the ``serving_default`` signature). Only fp32: int8
calibration of integer edge inputs is not meaningful.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from kerasdl.export.bench import size_bytes, time_calls
from kerasdl.export.package import _versions
from kerasdl.export.saved_model import check_model, export_saved_model
from kerasdl.export.tflite import ParityError, check_builtin_ops, convert, parity
from kerasdl.io import atomic_path, atomic_write_bytes, atomic_write_text, to_json


def named_inputs(model, inputs) -> dict:
    """``{input name: array}`` for a tuple of arrays in the model's input order."""
    if len(inputs) != len(model.inputs):
        raise ValueError(f"{model.name!r} takes {len(model.inputs)} inputs, got {len(inputs)}")
    return {t.name: np.asarray(v) for t, v in zip(model.inputs, inputs)}


def named_latency(tflite_bytes, inputs: dict, runs=50, warmup=5) -> dict:
    """Median and p90 wall time (ms) of one call of the signature on ``inputs`` (1 thread)."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=bytes(tflite_bytes)).get_signature_runner("serving_default")
    return {**time_calls(lambda: runner(**inputs), runs, warmup), "num_threads": 1}


def export_multi_input_model(model, name, inputs, *, y=None, out_dir="saved_models", metrics=None,
                             fp32_tolerance=1e-4, latency_runs=50) -> dict:
    """Export ``model`` to ``out_dir/name/``; ``inputs``: a tuple of real input arrays (one per
    model input, batch first), ``y`` their labels for the accuracy columns of the parity report."""
    check_model(model)
    named = named_inputs(model, inputs)
    blob = convert(model, "fp32")
    report = {"file": f"{name}_fp32.tflite", "ops": check_builtin_ops(blob),
              "size_bytes": size_bytes(blob), "parity": parity(model, blob, tuple(named.values()), y)}
    if report["parity"]["max_abs_error"] > fp32_tolerance:
        raise ParityError(f"{name}: fp32 TFLite max-abs error "
                          f"{report['parity']['max_abs_error']:.3g} > tolerance {fp32_tolerance:g}")
    first = {k: v[:1] for k, v in named.items()}
    report["latency"] = {"threads_1": named_latency(blob, first, runs=latency_runs)}
    target = Path(out_dir) / name
    target.mkdir(parents=True, exist_ok=True)
    with atomic_path(target / "model.keras") as tmp:
        model.save(tmp)
    export_saved_model(model, target / "saved_model")
    atomic_write_bytes(target / report["file"], blob)
    meta = {
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "inputs": {t.name: {"shape": list(t.shape), "dtype": str(t.dtype)} for t in model.inputs},
        "example_input_shapes": {k: list(v.shape) for k, v in named.items()},
        "output_shape": list(model.outputs[0].shape),
        "params": int(model.count_params()),
        "metrics": dict(metrics or {}),
        "files": ["model.keras", "saved_model/", report["file"]],
        "modes": {"fp32": report},
    }
    text = to_json(meta)
    atomic_write_text(target / "metadata.json", text)
    return json.loads(text)
