"""SavedModel export with a serving signature, written atomically."""
from __future__ import annotations

import keras
import numpy as np

from kerasdl.io import atomic_replace_dir


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


def export_saved_model(model, path, batch_size=None) -> str:
    """Write `model` as a TF SavedModel (signatures `serve` and `serving_default`) at `path`.

    `batch_size=None` keeps the batch dimension dynamic; an integer fixes it (single-input
    models), which lets the TFLite converter fuse recurrent layers into one sequence op.
    The export fills a temporary folder beside `path`, which then replaces `path`.
    Returns `path` as a string.
    """
    check_model(model)
    if batch_size is None:
        write = lambda tmp: model.export(str(tmp), format="tf_saved_model", verbose=False)  # noqa: E731
    else:
        write = lambda tmp: _static_batch_archive(model, int(batch_size)).write_out(str(tmp), verbose=False)  # noqa: E731
    atomic_replace_dir(write, path)
    return str(path)


def _static_batch_archive(model, batch_size: int):
    import tensorflow as tf

    if batch_size < 1 or len(model.inputs) != 1:
        raise ValueError(f"a static batch needs a single-input model and batch_size >= 1, got "
                         f"{len(model.inputs)} inputs and batch_size={batch_size}")
    spec = model.inputs[0]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda x: model(x, training=False),
                         input_signature=[tf.TensorSpec((batch_size, *spec.shape[1:]), spec.dtype)])
    return archive


def serve(path, x, batch_size=256):
    """Outputs (float32) of the `serve` endpoint of the SavedModel at `path` on `x`."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # keep alive: the endpoint references its variables
    x = np.asarray(x)
    x = x.astype("float32") if np.issubdtype(x.dtype, np.floating) else x
    outs = [loaded.serve(tf.constant(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    return np.concatenate([np.asarray(o, dtype="float32") for o in outs])
