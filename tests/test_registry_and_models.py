"""Registry behaviour, lazy import, and the spine models' parameter counts by the curriculum's formulas."""
import subprocess
import sys

import pytest

import kerasdl
from kerasdl.registry import UnknownNameError


def test_unknown_names_list_close_matches():
    with pytest.raises(UnknownNameError, match="Did you mean: simple_cnn"):
        kerasdl.create_model("simple_cn")
    with pytest.raises(UnknownNameError, match="Did you mean: fashion_mnist"):
        kerasdl.load_dataset("fashin_mnist")


def test_listing_and_unknown_hyperparameters():
    assert {"simple_cnn", "mlp"} <= set(kerasdl.list_models())
    assert {"fashion_mnist", "mnist10k", "digits"} <= set(kerasdl.list_datasets())
    assert "simple_cnn" in kerasdl.list_models(tag="vision")
    with pytest.raises(TypeError, match="filtres"):
        kerasdl.create_model("simple_cnn", filtres=(8,))


def test_import_is_lazy_and_fast():
    code = ("import time; t = time.perf_counter(); import kerasdl, sys; "
            "print('tensorflow' in sys.modules, time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported_tf, seconds = out.stdout.split()
    assert imported_tf == "False"
    assert float(seconds) <= 2.0


def dense_params(i, o):
    """I*O weights + O biases (curriculum 001 writes I*O+1: one bias per output, not one in all)."""
    return i * o + o


def conv_bn_params(k, c_in, c_out):
    """Bias-free k x k conv (k*k*C_in*C_out) + BatchNorm (gamma, beta, moving mean and variance)."""
    return k * k * c_in * c_out + 4 * c_out


@pytest.mark.parametrize("kwargs", [{}, {"filters": (16, 32), "convs_per_stage": 2, "dense_units": 64}])
def test_simple_cnn_parameter_count_by_formula(kwargs):
    model = kerasdl.create_model("simple_cnn", **kwargs)
    hp = model.hyperparameters
    expected, c_in, side = 0, hp["input_shape"][-1], hp["input_shape"][0]
    for width in hp["filters"]:
        for _ in range(hp["convs_per_stage"]):
            expected += conv_bn_params(3, c_in, width)
            c_in = width
        side //= 2  # 2x2 max-pool, stride 2, floor
    expected += dense_params(side * side * c_in, hp["dense_units"])
    expected += dense_params(hp["dense_units"], hp["num_classes"])
    assert model.count_params() == expected


def test_mlp_parameter_count_by_formula():
    model = kerasdl.create_model("mlp")
    assert model.count_params() == dense_params(784, 256) + dense_params(256, 128) + dense_params(128, 10)


def test_dtype_policy_survives_config_and_keras_file(tmp_path):
    import keras

    from kerasdl.train import precision_scope

    with precision_scope("mixed_bfloat16"):  # as the Trainer builds models on bf16 hardware
        model = kerasdl.create_model("mlp", hidden_units=(8,))
    assert model.get_config()["dtype"] == "mixed_bfloat16"
    model.save(tmp_path / "m.keras")
    for clone in (type(model).from_config(model.get_config()),
                  keras.models.load_model(tmp_path / "m.keras")):
        assert clone.get_layer("dense0").compute_dtype == "bfloat16"
        assert clone.get_layer("logits").compute_dtype == "float32"
    explicit = kerasdl.create_model("mlp", hidden_units=(8,), dtype="mixed_bfloat16")
    assert explicit.get_layer("dense0").compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"


LOAD_IN_FRESH_PROCESS = """
import sys
import keras
import kerasdl
try:
    keras.models.load_model(sys.argv[1])
    print("plain keras: loaded")
except TypeError as err:
    print("plain keras: " + str(err).split(".")[0])
print("kerasdl:", type(kerasdl.load_model(sys.argv[1])).__name__)
"""


def test_load_model_registers_kerasdl_classes_in_a_fresh_process(tmp_path):
    """A .keras file names kerasdl's classes; Keras alone cannot find them in a new process,
    kerasdl.load_model can. Missing and corrupt files fail naming the path."""
    path = tmp_path / "vgg.keras"
    kerasdl.create_model("vgg11_bn", small_input=True, width=0.125, input_shape=(32, 32, 3),
                         num_classes=4).save(path)
    out = subprocess.run([sys.executable, "-c", LOAD_IN_FRESH_PROCESS, str(path)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[-2] == "plain keras: Could not locate class 'VGG'"
    assert out[-1] == "kerasdl: VGG"
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip archive")
    for bad in (tmp_path / "missing.keras", tmp_path / "corrupt.keras"):
        with pytest.raises(ValueError, match=f"cannot load a Keras model from '{bad}'"):
            kerasdl.load_model(bad)
