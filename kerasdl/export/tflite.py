"""TFLite conversion (fp32 / fp16 / dynamic-range / full-int8), built-in op check, runner, parity.

Conversion goes Keras model -> SavedModel (``model.export``) -> ``TFLiteConverter.from_saved_model``,
the path Keras' own LiteRT exporter uses, with ``supported_ops`` limited to TFLite built-ins.
Models under a reduced-precision dtype policy (``mixed_bfloat16``, ``mixed_float16``) are converted
from a float32 twin: TFLite has no bf16 kernels, so bf16 ops would otherwise need Flex.
"""
from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path

import numpy as np

from kerasdl.export.saved_model import check_model, export_saved_model
from kerasdl.train.precision import precision_scope

MODES = ("fp32", "fp16", "dynamic", "int8")
REPRESENTATIVE_SAMPLES = 200
_REDUCED_DTYPES = {"bfloat16", "float16", "mixed_bfloat16", "mixed_float16"}


class NonBuiltinOpError(RuntimeError):
    """The flatbuffer holds Flex (SELECT_TF_OPS) or custom ops."""

    def __init__(self, ops):
        self.ops = sorted(set(ops))
        flex = [op for op in self.ops if op.startswith("Flex")]
        custom = [op for op in self.ops if op not in flex]
        parts = [f"{label}: {', '.join(names)}" for label, names in
                 (("Flex (SELECT_TF_OPS) ops", flex), ("custom ops", custom)) if names]
        super().__init__("TFLite model has non-built-in ops; " + "; ".join(parts))


class ParityError(AssertionError):
    """TFLite outputs differ from the Keras outputs by more than the tolerance."""


# --------------------------------------------------------------------------- precision


def is_reduced_precision(model) -> bool:
    """True if any layer of `model` computes in a dtype other than float32."""
    return any(
        layer.dtype_policy.compute_dtype in _REDUCED_DTYPES for layer in model._flatten_layers()
    )


def _is_reduced_name(value) -> bool:
    return isinstance(value, str) and value in _REDUCED_DTYPES


def _float32_config(obj):
    """Copy of a (nested) config with reduced-precision dtype policies replaced by float32."""
    if isinstance(obj, dict):
        if obj.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            name = obj.get("config", {}).get("name")
            return "float32" if _is_reduced_name(name) else obj
        return {
            key: "float32" if key == "dtype" and _is_reduced_name(value) else _float32_config(value)
            for key, value in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(_float32_config(v) for v in obj)
    return obj


def float32_model(model):
    """`model` itself if it computes in float32, else a float32 rebuild with the same weights."""
    check_model(model)
    if not is_reduced_precision(model):
        return model
    try:
        with precision_scope("float32"):
            twin = model.__class__.from_config(_float32_config(model.get_config()))
        twin.set_weights(model.get_weights())
    except Exception as err:
        raise ValueError(
            f"could not rebuild {model.name!r} in float32 for TFLite (from_config + set_weights "
            f"failed: {err}); build the model under the float32 policy before exporting"
        ) from err
    if is_reduced_precision(twin):
        raise ValueError(f"{model.name!r} still has reduced-precision layers after a float32 rebuild")
    return twin


# --------------------------------------------------------------------------- conversion


def input_shape(model) -> tuple:
    """Shape of the model's single input, batch dim as None."""
    check_model(model)
    if len(model.inputs) != 1:
        raise ValueError(f"only single-input models are supported, got {len(model.inputs)} inputs")
    return tuple(model.inputs[0].shape)


def input_dtype(model) -> str:
    """The dtype of the model's single input ("float32" for images, "int32" for token ids)."""
    input_shape(model)
    return str(model.inputs[0].dtype)


def representative_samples(data, shape, max_samples=REPRESENTATIVE_SAMPLES,
                           dtype="float32") -> np.ndarray:
    """Up to `max_samples` samples of shape `shape[1:]` in `dtype` (the model input's dtype:
    float32 for images, int32 for token ids) from an array or an iterable.

    Iterables may yield single samples, batches, or `(x, y)` pairs (as a `tf.data.Dataset` does).
    """
    if data is None:
        raise ValueError("int8 conversion needs representative_data (input samples)")
    dtype = np.dtype(dtype)

    def batch_of(values):
        x = np.asarray(values)
        if np.issubdtype(dtype, np.integer) and not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"representative_data for an integer ({dtype}) model input must hold "
                             f"integer ids, got {x.dtype}")
        x = x.astype(dtype)
        x = x[None] if x.ndim == len(shape) - 1 else x
        if x.ndim != len(shape) or tuple(x.shape[1:]) != tuple(shape[1:]):
            raise ValueError(
                f"representative_data samples must have shape {tuple(shape[1:])} (model input "
                f"{tuple(shape)}), got {np.shape(values)}"
            )
        return x

    if hasattr(data, "shape") or isinstance(data, list):
        samples = batch_of(data)
    else:
        rows, count = [], 0
        for item in data:
            rows.append(batch_of(item[0] if isinstance(item, (tuple, list)) else item))
            count += len(rows[-1])
            if count >= max_samples:
                break
        samples = np.concatenate(rows) if rows else np.zeros((0, *shape[1:]), dtype)
    if len(samples) == 0:
        raise ValueError("representative_data is empty")
    return samples[:max_samples]


@contextlib.contextmanager
def serving_saved_model(model, batch_size=None):
    """Temporary SavedModel of the float32 version of `model` (batch fixed when `batch_size`);
    yields its path."""
    with tempfile.TemporaryDirectory(prefix="kerasdl-tflite-") as tmp:
        yield export_saved_model(float32_model(model), Path(tmp) / "saved_model", batch_size)


def _check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"unknown TFLite mode {mode!r}; valid modes: {', '.join(MODES)}")


def float_layer_names(model) -> tuple:
    """Names of the layers (nested ones included) that full-int8 conversion keeps in float."""
    def walk(layer):
        for sub in getattr(layer, "layers", ()):
            yield sub
            yield from walk(sub)

    return tuple(layer.name for layer in walk(model) if getattr(layer, "keep_float_in_int8", False))


def _tensors_of_layers(saved_model_dir, layer_names) -> list:
    """Output-tensor names of the ops inside `layer_names` (the SavedModel's name scopes, which
    may carry a ``_1`` suffix), read from the fp32 flatbuffer."""
    from ai_edge_litert.interpreter import Interpreter

    scope = re.compile(r"(^|/)(" + "|".join(map(re.escape, layer_names)) + r")(_\d+)?/")
    tensors = Interpreter(model_content=convert_saved_model(saved_model_dir)).get_tensor_details()
    names = [t["name"] for t in tensors if scope.search(t["name"])]
    if not names:
        raise ValueError(f"no ops of the float layers {list(layer_names)} in the converted model")
    return names


def convert_saved_model(saved_model_dir, mode="fp32", representative=None,
                        float_layers=()) -> bytes:
    """Convert a SavedModel's `serving_default` signature; `representative`: input samples (int8).

    Full-int8 quantises float inputs to int8; integer inputs (token ids) stay integers.
    `float_layers` (int8 only): names of layers whose ops stay float (see `float_layer_names`).
    """
    import tensorflow as tf

    _check_mode(mode)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(saved_model_dir), signature_keys=["serving_default"]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        if representative is None:
            raise ValueError("int8 conversion needs representative data")
        converter.representative_dataset = lambda: ([s[None]] for s in representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        integer_input = np.issubdtype(np.asarray(representative).dtype, np.integer)
        if float_layers:
            options = tf.lite.experimental.QuantizationDebugOptions(
                denylisted_nodes=_tensors_of_layers(saved_model_dir, float_layers),
                fully_quantize=not integer_input)
            return tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=converter.representative_dataset,
                debug_options=options).get_nondebug_quantized_model()
        if not integer_input:
            converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def convert(model, mode="fp32", representative_data=None, batch_size=None) -> bytes:
    """TFLite flatbuffer of `model` in `mode` (one of MODES), built-in ops only.

    `representative_data` (int8 only): array of input samples or an iterable of samples/batches;
    the first 200 samples calibrate the activation ranges. `batch_size`: None keeps the batch
    dynamic; an integer (1 for a device) fixes it, which lets the converter fuse an unrolled
    `FusibleLSTM` into one UNIDIRECTIONAL_SEQUENCE_LSTM op (a dynamic batch lowers it to plain
    built-ins: same outputs, larger and slower). Multi-input models (graphs: node features and
    edges) convert in fp32/fp16/dynamic mode; their inputs keep their Keras input names.
    """
    _check_mode(mode)
    samples = (representative_samples(representative_data, input_shape(model),
                                      dtype=input_dtype(model)) if mode == "int8" else None)
    with serving_saved_model(model, batch_size) as saved_model_dir:
        return convert_saved_model(saved_model_dir, mode, samples, float_layer_names(model))


# --------------------------------------------------------------------------- op check


def _operators(tflite_bytes):
    """(name, is_builtin) for every operator of every subgraph, parsed from the flatbuffer."""
    from ai_edge_litert import schema_py_generated as schema

    buf = bytes(tflite_bytes)
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (missing 'TFL3' identifier)")
    builtin_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if k.isupper()}
    model = schema.Model.GetRootAs(buf, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        # Schema rule: the real code is the larger of the deprecated int8 field and the int32 one.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            codes.append(((code.CustomCode() or b"<unnamed custom>").decode(), False))
        else:
            codes.append((builtin_names.get(builtin, f"BUILTIN_{builtin}"), True))
    return [
        codes[sub.Operators(j).OpcodeIndex()]
        for sub in (model.Subgraphs(i) for i in range(model.SubgraphsLength()))
        for j in range(sub.OperatorsLength())
    ]


def op_names(tflite_bytes) -> list:
    """Op name of every operator, in subgraph order (Flex ops appear as `Flex<TfOp>`)."""
    return [name for name, _ in _operators(tflite_bytes)]


def check_builtin_ops(tflite_bytes) -> list:
    """Sorted set of op names; raises NonBuiltinOpError on any Flex or custom op."""
    ops = _operators(tflite_bytes)
    bad = [name for name, builtin in ops if not builtin]
    if bad:
        raise NonBuiltinOpError(bad)
    return sorted({name for name, _ in ops})


# --------------------------------------------------------------------------- runner


class TFLiteRunner:
    """Batched inference with the LiteRT interpreter; float in, float32 out for every mode."""

    def __init__(self, tflite_bytes, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_content=bytes(tflite_bytes), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(
                f"TFLiteRunner supports one input and one output, got {len(inputs)}/{len(outputs)}"
            )
        self._in, self._out = inputs[0], outputs[0]
        self._batch = int(self._in["shape"][0])

    @property
    def input_shape(self) -> tuple:
        """Input shape, None where the model leaves a dimension dynamic."""
        return tuple(None if d < 0 else int(d) for d in self._in["shape_signature"])

    @property
    def input_dtype(self):
        return np.dtype(self._in["dtype"])

    def invoke(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch already in the input tensor's dtype; returns the raw output tensor.

        Variable tensors are zeroed first: a fused UNIDIRECTIONAL_SEQUENCE_LSTM keeps its h/c
        state in them across invocations, so every call must start from zero state (a device
        calls ``reset_all_variables()`` / ``ResetVariableTensors()`` before each input too).
        """
        if len(batch) != self._batch:
            self.interpreter.resize_tensor_input(self._in["index"], batch.shape)
            self.interpreter.allocate_tensors()
            self._batch = len(batch)
        self.interpreter.reset_all_variables()
        self.interpreter.set_tensor(self._in["index"], batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out["index"])

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """`x` checked against the input shape and cast/quantised to the input tensor's dtype."""
        expected = self.input_shape
        got = x.shape
        ok = len(got) == len(expected) and all(e in (None, g) for e, g in zip(expected[1:], got[1:]))
        if not ok or len(x) == 0:
            raise ValueError(f"TFLite input shape mismatch: expected {expected}, got {got}")
        if np.issubdtype(x.dtype, np.floating):
            return self._quantize(x.astype("float32"))
        if x.dtype == self.input_dtype:
            return x
        raise ValueError(
            f"TFLite input dtype mismatch: expected float or {self.input_dtype}, got {x.dtype}"
        )

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        dtype = self.input_dtype
        if not np.issubdtype(dtype, np.integer):
            return x.astype(dtype)
        scale, zero_point = self._in["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        scale, zero_point = self._out["quantization"]
        if np.issubdtype(y.dtype, np.integer) and scale:
            return ((y.astype("float32") - zero_point) * scale).astype("float32")
        return y.astype("float32")

    def predict(self, x, batch_size=256) -> np.ndarray:
        """float32 outputs for `x` (shape `input_shape` with any batch size)."""
        x = self.prepare(np.asarray(x))
        step = batch_size if self.input_shape[0] is None else self.input_shape[0]
        if len(x) % step and self.input_shape[0] is not None:
            raise ValueError(f"batch of {len(x)} is not a multiple of the static batch {step}")
        outs = [self._dequantize(self.invoke(x[i : i + step])) for i in range(0, len(x), step)]
        return np.concatenate(outs)


# --------------------------------------------------------------------------- parity


def _top1(outputs):
    return np.argmax(outputs, axis=-1)


def compare_outputs(expected, got, y=None, names=("keras", "tflite")) -> dict:
    """Max/mean abs error and top-1 agreement of `got` vs `expected`; accuracies if `y` given."""
    expected, got = np.asarray(expected, "float32"), np.asarray(got, "float32")
    if got.shape != expected.shape:
        raise ValueError(f"output shapes differ: expected {expected.shape}, got {got.shape}")
    err = np.abs(got - expected)
    report = {
        "num_samples": int(len(expected)),
        "max_abs_error": float(err.max()),
        "mean_abs_error": float(err.mean()),
        "top1_agreement": float(np.mean(_top1(got) == _top1(expected))),
    }
    if y is not None:
        y = np.asarray(y).reshape(_top1(expected).shape)
        report[f"{names[0]}_accuracy"] = float(np.mean(_top1(expected) == y))
        report[f"{names[1]}_accuracy"] = float(np.mean(_top1(got) == y))
    return report


def predict_named(tflite_bytes, inputs: dict, batch_size=256, num_threads=1) -> np.ndarray:
    """float32 outputs of a float model's `serving_default` signature for named inputs (a
    multi-input model: ``{keras_input.name: array}``, all with the same batch size), run
    `batch_size` rows at a time; dynamic dimensions are resized for each call."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=bytes(tflite_bytes),
                         num_threads=num_threads).get_signature_runner("serving_default")
    sizes = {len(v) for v in inputs.values()}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"named inputs need one non-empty batch size, got "
                         f"{ {k: np.shape(v) for k, v in inputs.items()} }")
    outs = []
    for i in range(0, sizes.pop(), batch_size):
        (out,) = runner(**{k: v[i:i + batch_size] for k, v in inputs.items()}).values()
        outs.append(np.asarray(out, np.float32))
    return np.concatenate(outs)


def parity(model, tflite_bytes, x, y=None, batch_size=256) -> dict:
    """Compare TFLite with Keras outputs on `x`: max/mean abs error, top-1 agreement, accuracies.

    For a multi-input model `x` is a tuple with one array per model input, in input order.
    """
    check_model(model)
    if len(model.inputs) > 1:
        if not isinstance(x, (tuple, list)) or len(x) != len(model.inputs):
            raise ValueError(f"{model.name!r} takes {len(model.inputs)} inputs; pass x as a tuple "
                             f"of {len(model.inputs)} arrays")
        x = tuple(np.asarray(v) for v in x)
        expected = model.predict(x, batch_size=batch_size, verbose=0)
        got = predict_named(tflite_bytes, {t.name: v for t, v in zip(model.inputs, x)}, batch_size)
        return compare_outputs(expected, got, y)
    x = np.asarray(x)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError("parity needs a non-empty x")
    if y is not None and len(y) != len(x):
        raise ValueError(f"x and y lengths differ: {len(x)} vs {len(y)}")
    expected = model.predict(x, batch_size=batch_size, verbose=0)
    got = TFLiteRunner(tflite_bytes).predict(x, batch_size=batch_size)
    return compare_outputs(expected, got, y)
