"""kerasdl.export on a small CNN trained on the real 8x8 digits: conversion, op check, parity, package."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.export import bench
from kerasdl.export import (
    MODES,
    NonBuiltinOpError,
    ParityError,
    TFLiteRunner,
    check_builtin_ops,
    convert,
    export_model,
    export_saved_model,
    op_names,
    parity,
)


@keras.saving.register_keras_serializable(package="kerasdl_tests")
class DigitsCNN(keras.Model):
    """Functional-subclass CNN: Conv2D -> max-pool -> Dense -> float32 logits."""

    def __init__(self, num_classes=10, filters=16, units=128, **kwargs):
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(units, activation="relu")(x)
        outputs = keras.layers.Dense(num_classes, dtype="float32")(x)
        super().__init__(inputs, outputs, **kwargs)
        self.num_classes, self.filters, self.units = num_classes, filters, units

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "filters": self.filters, "units": self.units}


@pytest.fixture(scope="module")
def trained(digits_arrays):
    (x, y), (x_test, y_test) = digits_arrays
    keras.utils.set_random_seed(0)
    model = DigitsCNN()
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=6, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert accuracy >= 0.9, accuracy
    return model


@pytest.fixture(scope="module")
def blobs(trained, digits_arrays):
    (x, y), _ = digits_arrays
    calibration = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)  # (x, y) batches work too
    return {mode: convert(trained, mode, representative_data=calibration) for mode in MODES}


@pytest.fixture(scope="module")
def package(trained, digits_arrays, tmp_path_factory):
    (x, _), test = digits_arrays
    out = tmp_path_factory.mktemp("saved_models")
    meta = export_model(trained, "digits_cnn", out_dir=out, representative_data=x,
                        test_data=test, metrics={"accuracy": np.float32(0.95)}, latency_runs=5)
    return out / "digits_cnn", meta


def test_fp32_parity(trained, blobs, digits_arrays):
    _, (x, y) = digits_arrays
    report = parity(trained, blobs["fp32"], x, y)
    assert report["max_abs_error"] <= 1e-4
    assert report["top1_agreement"] == 1.0
    assert report["tflite_accuracy"] == report["keras_accuracy"] >= 0.9


def test_every_mode_has_builtin_ops_only(blobs):
    for mode, blob in blobs.items():
        ops = check_builtin_ops(blob)
        assert {"CONV_2D", "FULLY_CONNECTED"} <= set(ops), (mode, ops)
        assert not any(op.startswith("Flex") for op in op_names(blob))


def test_int8_is_full_integer_small_and_accurate(trained, blobs, digits_arrays):
    _, (x, y) = digits_arrays
    runner = TFLiteRunner(blobs["int8"])
    assert runner.input_dtype == np.int8
    assert runner.interpreter.get_output_details()[0]["dtype"] == np.int8
    assert bench.size_bytes(blobs["int8"]) <= 0.35 * bench.size_bytes(blobs["fp32"])
    report = parity(trained, blobs["int8"], x, y)
    assert report["tflite_accuracy"] >= report["keras_accuracy"] - 0.03
    assert report["top1_agreement"] >= 0.95
    assert runner.predict(x).dtype == np.float32


def test_check_builtin_ops_rejects_flex():
    @tf.function(input_signature=[tf.TensorSpec([None, 3, 3], tf.float32)])
    def determinant(m):
        return tf.linalg.det(m)  # no TFLite built-in: becomes FlexMatrixDeterminant

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [determinant.get_concrete_function()], determinant)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                           tf.lite.OpsSet.SELECT_TF_OPS]
    flex = converter.convert()
    assert op_names(flex) == ["FlexMatrixDeterminant"]
    with pytest.raises(NonBuiltinOpError, match="FlexMatrixDeterminant"):
        check_builtin_ops(flex)
    with pytest.raises(ValueError, match="TFL3"):
        op_names(b"not a flatbuffer")


def test_runner_validates_input(blobs, digits_arrays):
    _, (x, _) = digits_arrays
    runner = TFLiteRunner(blobs["fp32"])
    assert runner.input_shape == (None, 8, 8, 1)
    np.testing.assert_array_equal(runner.predict(x[:7], batch_size=3), runner.predict(x[:7]))
    with pytest.raises(ValueError, match=r"expected \(None, 8, 8, 1\), got \(4, 8, 8\)"):
        runner.predict(x[:4, ..., 0])
    with pytest.raises(ValueError, match="dtype"):
        runner.predict(x[:4].astype("int32"))


def test_bad_arguments(trained, digits_arrays, tmp_path):
    (x, _), (x_test, y_test) = digits_arrays
    with pytest.raises(ValueError, match="representative_data"):
        convert(trained, "int8")
    with pytest.raises(ValueError, match="samples must have shape"):
        convert(trained, "int8", representative_data=x[:10, :4])
    with pytest.raises(ValueError, match="valid modes: fp32, fp16, dynamic, int8"):
        convert(trained, "int4")
    with pytest.raises(TypeError, match="keras.Model"):
        convert(lambda t: t)
    with pytest.raises(ValueError, match="empty"):
        export_model(trained, "empty", out_dir=tmp_path, modes=("fp32",),
                     test_data=(x_test[:0], y_test[:0]))
    with pytest.raises(ValueError, match="plain folder name"):
        export_model(trained, "../escape", out_dir=tmp_path, modes=("fp32",))
    assert not any(tmp_path.iterdir())


def test_latency(blobs):
    for mode in ("fp32", "int8"):
        result = bench.latency(blobs[mode], num_threads=2, runs=5, warmup=1)
        assert result["num_threads"] == 2
        assert 0 < result["median_ms"] <= result["p90_ms"]


def test_export_model_writes_package(package):
    folder, meta = package
    names = {p.name for p in folder.iterdir()}
    assert names == {"model.keras", "saved_model", "metadata.json",
                     "digits_cnn_fp32.tflite", "digits_cnn_int8.tflite"}
    assert json.loads((folder / "metadata.json").read_text()) == meta
    assert meta["input_shape"] == [None, 8, 8, 1] and meta["params"] > 30_000
    assert meta["metrics"] == {"accuracy": pytest.approx(0.95)}
    for mode in ("fp32", "int8"):
        entry = meta["modes"][mode]
        assert entry["size_bytes"] == (folder / entry["file"]).stat().st_size
        assert set(entry["parity"]) >= {"max_abs_error", "top1_agreement", "tflite_accuracy"}
        assert entry["latency"]["threads_1"]["median_ms"] > 0
    assert meta["modes"]["fp32"]["parity"]["max_abs_error"] <= 1e-4
    assert meta["modes"]["int8"]["size_ratio_vs_fp32"] <= 0.35
    assert meta["saved_model_parity"]["max_abs_error"] <= 1e-5


def test_saved_model_serve_matches_keras(trained, package, digits_arrays):
    folder, _ = package
    _, (x, _) = digits_arrays
    loaded = tf.saved_model.load(str(folder / "saved_model"))
    np.testing.assert_allclose(loaded.serve(tf.constant(x)).numpy(),
                               trained.predict(x, verbose=0), atol=1e-5)
    reloaded = keras.saving.load_model(folder / "model.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), trained.predict(x, verbose=0),
                               atol=1e-6)


def test_saved_model_export_replaces_atomically(trained, tmp_path):
    target = tmp_path / "sm"
    (target / "stale").mkdir(parents=True)
    export_saved_model(trained, target)
    assert not (target / "stale").exists() and (target / "saved_model.pb").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["sm"]  # no temp or backup folders left


def test_fp32_tolerance_is_enforced(trained, digits_arrays, tmp_path):
    _, test = digits_arrays
    with pytest.raises(ParityError, match="fp32 TFLite max-abs error"):
        export_model(trained, "strict", out_dir=tmp_path, modes=("fp32",), test_data=test,
                     fp32_tolerance=1e-9, latency_runs=1)
    assert not (tmp_path / "strict").exists()  # nothing is written before every check passed


def test_mixed_bfloat16_model_exports(trained, digits_arrays, tmp_path):
    """bf16 ops have no TFLite built-ins, so export converts a float32 rebuild of the model.

    Tolerances: the TFLite fp32 file must match that float32 rebuild to 1e-4 (conversion error
    only). Against the bf16 Keras outputs the gap is bf16 rounding (8-bit mantissa, 2**-8 ~ 0.4 %
    per op), so we ask for <= 2 % of the logit range and >= 98 % top-1 agreement.
    """
    _, (x, y) = digits_arrays
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = DigitsCNN()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.set_weights(trained.get_weights())
    assert model.layers[1].compute_dtype == "bfloat16"

    meta = export_model(model, "digits_bf16", out_dir=tmp_path, modes=("fp32",),
                        test_data=(x, y), latency_runs=1)
    assert keras.config.dtype_policy().name == "float32"
    assert meta["dtype_policy"] == "mixed_bfloat16"
    assert meta["tflite_converted_from"] == "float32 rebuild"
    assert meta["modes"]["fp32"]["parity"]["max_abs_error"] <= 1e-4

    blob = (tmp_path / "digits_bf16" / "digits_bf16_fp32.tflite").read_bytes()
    vs_bf16 = parity(model, blob, x, y)
    logit_range = float(np.ptp(model.predict(x, verbose=0)))
    assert vs_bf16["max_abs_error"] <= 0.02 * logit_range, (vs_bf16, logit_range)
    assert vs_bf16["top1_agreement"] >= 0.98
    assert abs(vs_bf16["tflite_accuracy"] - vs_bf16["keras_accuracy"]) <= 0.02
    assert meta["float32_vs_policy"]["max_abs_error"] == pytest.approx(
        vs_bf16["max_abs_error"], abs=1e-4)
