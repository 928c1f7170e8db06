"""fit_keeping_best: blocks of epochs, validation after each, the best block's weights restored."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.train import Trainer
from kerasdl.train.selection import fit_keeping_best


def small_trainer():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    trainer = Trainer(model, keras.losses.MeanSquaredError(), keras.optimizers.SGD(0.05),
                      jit_compile=False, verbose=0)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x.sum(1, keepdims=True))).batch(16)
    return trainer, data


def test_restores_the_weights_of_the_best_validation_block():
    trainer, data = small_trainer()
    scores, seen = iter([0.2, 0.9, 0.5]), []

    def validate():
        seen.append([w.copy() for w in trainer.model.get_weights()])
        return {"score": next(scores), "other": 1.0}

    selected = fit_keeping_best(trainer, data, epochs=5, every=2, validate=validate, key="score")
    assert selected["best_epoch"] == 4 and selected["best"] == 0.9
    assert [row["epoch"] for row in selected["curve"]] == [2, 4, 5]  # a short last block
    assert trainer.history.epochs[-1]["epoch"] == 5
    assert all(row["other"] == 1.0 and np.isfinite(row["loss"]) for row in selected["curve"])
    assert not np.allclose(seen[1][0], seen[2][0])  # training went on after the best block
    for restored, best in zip(trainer.model.get_weights(), seen[1]):
        np.testing.assert_array_equal(restored, best)


def test_bad_block_sizes_and_a_missing_key_are_named():
    trainer, data = small_trainer()
    with pytest.raises(ValueError, match="every <= epochs"):
        fit_keeping_best(trainer, data, epochs=1, every=2, validate=dict, key="score")
    with pytest.raises(KeyError, match="without the key 'score'"):
        fit_keeping_best(trainer, data, epochs=1, every=1, validate=lambda: {"mrr": 0.5}, key="score")
