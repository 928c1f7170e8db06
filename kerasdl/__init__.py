"""kerasdl: the classic deep-learning curriculum as fast, exportable Keras 3 code.

The public API is loaded lazily so that ``import kerasdl`` does not import TensorFlow::

    import kerasdl
    model = kerasdl.create_model("simple_cnn", num_classes=10)
    train = kerasdl.load_dataset("fashion_mnist", split="train")
    model = kerasdl.load_model("saved_models/RUN/model.keras")  # registers kerasdl's classes
"""
from kerasdl.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    **dict.fromkeys(("create_model", "list_models", "load_model", "load_dataset", "list_datasets",
                     "UnknownNameError"), "kerasdl.registry"),
    "Trainer": "kerasdl.train.trainer",
    **{name: f"kerasdl.{name}" for name in ("export", "data", "train", "models", "layers")},
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
