"""SavedModel export with a serving signature, written atomically."""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import keras
import numpy as np


def check_model(model) -> None:
    """Raise TypeError unless `model` is a built `keras.Model` with a defined input."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(model).__name__}")
    try:
        inputs = model.inputs
    except AttributeError:
        inputs = None
    if not inputs:
        raise ValueError(
            f"model {model.name!r} has no defined inputs; build it functionally "
            "(keras.Input -> ... -> super().__init__(inputs, outputs)) before exporting"
        )


def export_saved_model(model, path) -> str:
    """Write `model` as a TF SavedModel (signatures `serve` and `serving_default`) at `path`.

    The export goes to a temporary folder next to `path`, which then replaces `path`.
    Returns `path` as a string.
    """
    check_model(model)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        staged = tmp / "saved_model"
        model.export(str(staged), format="tf_saved_model", verbose=False)
        replace_dir(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def replace_dir(src: Path, dst: Path) -> None:
    """Move folder `src` onto `dst`, swapping out any existing `dst` (same filesystem)."""
    if not dst.exists():
        os.replace(src, dst)
        return
    old = dst.with_name(f".{dst.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(dst, old)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(old, dst)
        raise
    shutil.rmtree(old, ignore_errors=True)


def serve(path, x, batch_size=256):
    """Outputs (float32) of the `serve` endpoint of the SavedModel at `path` on `x`."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # keep alive: the endpoint references its variables
    x = np.asarray(x)
    x = x.astype("float32") if np.issubdtype(x.dtype, np.floating) else x
    outs = [loaded.serve(tf.constant(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    return np.concatenate([np.asarray(o, dtype="float32") for o in outs])
