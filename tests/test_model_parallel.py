"""Layer placement across the two logical CPUs of the test session (conftest.split_cpu(2))."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.layers.placement import OnDevice


def stages(wrap):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((12,))
    first, second = keras.layers.Dense(32, activation="relu"), keras.layers.Dense(5)
    if wrap:
        first, second = OnDevice(first, "/CPU:0"), OnDevice(second, "/CPU:1")
    return keras.Model(inputs, second(first(inputs)))


def test_two_stages_on_two_devices_compute_what_one_device_does(tmp_path):
    assert len(tf.config.list_logical_devices("CPU")) == 2
    split, whole = stages(True), stages(False)
    devices = [v.value.device for v in split.trainable_variables]
    assert any(d.endswith("CPU:0") for d in devices) and any(d.endswith("CPU:1") for d in devices)
    x = np.random.default_rng(0).normal(size=(4, 12)).astype("float32")
    np.testing.assert_allclose(split(x), whole(x), atol=1e-6)
    split.save(tmp_path / "split.keras")
    loaded = keras.models.load_model(tmp_path / "split.keras")
    assert [v.value.device for v in loaded.trainable_variables] == devices
    np.testing.assert_allclose(loaded(x), whole(x), atol=1e-6)

    # and it trains: gradients flow back across the device boundary
    split.compile(keras.optimizers.SGD(0.1), "mse")
    y = np.zeros((4, 5), "float32")
    losses = split.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert losses[-1] < losses[0]


def test_bad_device_name_is_named():
    with pytest.raises(ValueError, match="not a device name"):
        OnDevice(keras.layers.Dense(2), "cpu one")
