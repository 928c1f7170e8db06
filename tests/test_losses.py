"""Losses kerasdl adds to Keras, against direct NumPy computations."""
import keras
import numpy as np
import pytest

from kerasdl.losses import SparseCategoricalCrossentropyLS, classification_loss


def numpy_smoothed_ce(labels, logits, eps):
    k = logits.shape[-1]
    target = np.full(logits.shape, eps / k)
    target[np.arange(len(labels)), labels] += 1 - eps
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    return float(np.mean(-(target * log_p).sum(-1)))


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothing_matches_formula(eps):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 5)).astype("float32")
    labels = rng.integers(0, 5, 8)
    loss = SparseCategoricalCrossentropyLS(eps)(labels, logits)
    assert float(loss) == pytest.approx(numpy_smoothed_ce(labels, logits, eps), rel=1e-5)


def test_no_smoothing_is_keras_sparse_loss_and_config_round_trips():
    assert isinstance(classification_loss(0.0), keras.losses.SparseCategoricalCrossentropy)
    loss = classification_loss(0.1)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert clone.label_smoothing == 0.1 and clone.from_logits
    with pytest.raises(ValueError, match="label_smoothing"):
        SparseCategoricalCrossentropyLS(1.0)


def test_weighted_heatmap_mse_matches_numpy_and_reduces_to_mse():
    from kerasdl.losses import WeightedHeatmapMSE

    rng = np.random.default_rng(3)
    y = rng.uniform(-1, 1, (2, 5, 5, 3)).astype("float32")  # heatmaps and signed PAF components
    p = rng.normal(0, 1, y.shape).astype("float32")
    expected = np.mean((1 + 20 * np.abs(y)) * (y - p) ** 2)
    np.testing.assert_allclose(float(WeightedHeatmapMSE(20.0)(y, p)), expected, rtol=1e-5)
    np.testing.assert_allclose(float(WeightedHeatmapMSE(0.0)(y, p)),
                               float(keras.losses.MeanSquaredError()(y, p)), rtol=1e-6)
    clone = WeightedHeatmapMSE.from_config(WeightedHeatmapMSE(7.0).get_config())
    assert clone.foreground_weight == 7.0
    with pytest.raises(ValueError, match="foreground_weight"):
        WeightedHeatmapMSE(-1.0)
