"""Export: SavedModel, TFLite (fp32/fp16/dynamic/int8) with a built-in-op check, parity, benchmarks.

    from kerasdl import export
    meta = export.export_model(model, "digits_cnn", representative_data=x_train[:200],
                               test_data=(x_test, y_test))

Names load lazily, so importing this package does not import TensorFlow.
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    "export_saved_model": "kerasdl.export.saved_model",
    **dict.fromkeys(("MODES", "convert", "op_names", "check_builtin_ops", "TFLiteRunner", "parity",
                     "float32_model", "NonBuiltinOpError", "ParityError", "predict_named"),
                   "kerasdl.export.tflite"),
    **dict.fromkeys(("latency", "size_bytes"), "kerasdl.export.bench"),
    "export_model": "kerasdl.export.package",
    "export_multi_input_model": "kerasdl.export.multi_input",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
