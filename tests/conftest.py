"""Shared test set-up: quiet TensorFlow, CPU only, deterministic seeds."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402

from kerasdl.train.strategy import split_cpu  # noqa: E402

split_cpu(2)  # two logical CPUs, so MirroredStrategy can be tested on one machine


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def digits_arrays():
    """Real 8x8 digits (sklearn), split 1,497 train / 300 test, images in [0, 1] with a channel axis."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype("float32")[..., None]
    y = d.target.astype("int32")
    return (x[:1497], y[:1497]), (x[1497:], y[1497:])


@pytest.fixture
def op_determinism():
    """TensorFlow's deterministic kernels for one test (exact-repeat checks)."""
    import tensorflow as tf
    from tensorflow.python.framework import config  # no public switch-off exists

    tf.config.experimental.enable_op_determinism()
    yield
    config.disable_op_determinism()
