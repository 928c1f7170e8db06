"""The Trainer on real digits: learning, exact resume, NaN rollback, distribution, XLA policy."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.data.pipelines import from_arrays
from kerasdl.train import Trainer, TrainingDivergedError

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def cnn():
    return kerasdl.create_model("simple_cnn", input_shape=(8, 8, 1), filters=(8, 16), dense_units=32)


def mlp():
    return kerasdl.create_model("mlp", input_shape=(8, 8, 1), hidden_units=(32,))


def accuracy():
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def weights(model):
    return [v.numpy() for v in model.trainable_variables]


def test_learns_real_digits_and_writes_logs(digits_arrays, tmp_path):
    (x, y), (xt, yt) = digits_arrays
    trainer = Trainer(mlp, LOSS, keras.optimizers.Adam(3e-3), [accuracy()], jit_compile=False,
                      log_dir=tmp_path, verbose=0)
    trainer.fit(from_arrays(x, y, 32, training=True), epochs=4,
                validation_data=from_arrays(xt, yt, 64, training=False))
    losses = [e["loss"] for e in trainer.history.epochs]
    assert losses == sorted(losses, reverse=True), losses
    assert trainer.history.epochs[-1]["val_accuracy"] >= 0.85
    assert json.loads((tmp_path / "history.json").read_text())[-1]["epoch"] == 4
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    trainer.close()


def test_resume_equals_uninterrupted_run(digits_arrays, tmp_path, op_determinism):
    (x, y), _ = digits_arrays

    def run(directory, plan):
        keras.utils.set_random_seed(7)
        for epochs in plan:  # a fresh Trainer per leg, as after a crash
            trainer = Trainer(cnn, LOSS, "adam", jit_compile=False, checkpoint_dir=directory,
                              log_dir=directory, steps_per_execution=3, verbose=0)
            trainer.fit(from_arrays(x, y, 64, training=True, seed=3), epochs=epochs, resume=True)
        return trainer

    straight = run(tmp_path / "a", [3])
    resumed = run(tmp_path / "b", [1, 3])
    for a, b in zip(weights(straight.model), weights(resumed.model)):
        np.testing.assert_array_equal(a, b)
    assert [e["loss"] for e in straight.history.epochs] == [e["loss"] for e in resumed.history.epochs]


def test_steps_per_execution_does_not_change_the_result(digits_arrays):
    (x, y), _ = digits_arrays
    results = []
    for spe in (1, 5):
        keras.utils.set_random_seed(1)
        trainer = Trainer(mlp, LOSS, "sgd", jit_compile=False, steps_per_execution=spe, verbose=0)
        trainer.fit(from_arrays(x, y, 100, training=True), epochs=1)
        results.append(weights(trainer.model))
        trainer.close()
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-6)


def _poisoned(x, y, bad_batches, value=np.nan):
    """Batches of 50 real digits; the listed batches get ``value`` (NaN: one pixel; else a factor
    applied to the whole batch)."""
    x = x.copy()
    for b in bad_batches:
        if np.isnan(value):
            x[b * 50, 0, 0, 0] = value
        else:
            x[b * 50:(b + 1) * 50] *= value
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(50, drop_remainder=True)


def test_nan_batch_rolls_back_and_training_continues(digits_arrays):
    (x, y), _ = digits_arrays
    trainer = Trainer(mlp, LOSS, "adam", jit_compile=False, verbose=0)
    trainer.fit(_poisoned(x, y, [10]), epochs=2)
    assert trainer.rollbacks == 2  # the poisoned batch comes round once per epoch
    assert all(np.isfinite(w).all() for w in weights(trainer.model))
    assert np.isfinite(trainer.history.epochs[-1]["loss"])
    trainer.close()


def test_exploding_loss_rolls_back(digits_arrays):
    (x, y), _ = digits_arrays
    trainer = Trainer(mlp, LOSS, "adam", jit_compile=False, verbose=0)
    trainer.fit(_poisoned(x, y, []), epochs=1)
    assert trainer.rollbacks == 0
    trainer.fit(_poisoned(x, y, [5], value=1e4), epochs=2, resume=True)  # finite but exploding
    assert trainer.rollbacks == 1
    assert trainer.history.epochs[-1]["loss"] < 10 * trainer.history.epochs[0]["loss"]
    trainer.close()


def test_rollback_on_the_last_step_of_an_epoch(digits_arrays):
    (x, y), _ = digits_arrays
    trainer = Trainer(mlp, LOSS, "adam", jit_compile=False, verbose=0)
    trainer.fit(_poisoned(x, y, [28]), epochs=3)  # batch 28 of 29 is the epoch's last
    assert trainer.rollbacks == 3
    assert all(np.isfinite(w).all() for w in weights(trainer.model))
    trainer.close()


def test_persistent_divergence_raises(digits_arrays):
    (x, y), _ = digits_arrays
    trainer = Trainer(mlp, LOSS, "adam", jit_compile=False, max_rollbacks=2, verbose=0)
    with pytest.raises(TrainingDivergedError, match="rollbacks"):
        trainer.fit(_poisoned(x, y, range(29)), epochs=1)
    trainer.close()


def test_mirrored_strategy_matches_default(digits_arrays):
    (x, y), _ = digits_arrays
    x, y = x[:1200], y[:1200]
    assert len(tf.config.list_logical_devices("CPU")) == 2
    results = {}
    for strategy in ("default", "mirrored"):
        keras.utils.set_random_seed(5)
        trainer = Trainer(mlp, LOSS, keras.optimizers.SGD(0.1), [accuracy()], strategy=strategy,
                          jit_compile=False, verbose=0)
        assert trainer.strategy.num_replicas_in_sync == (2 if strategy == "mirrored" else 1)
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(60, drop_remainder=True)
        trainer.fit(data, epochs=2)
        results[strategy] = (trainer.history.epochs[-1], weights(trainer.model))
        trainer.close()
    (log_a, w_a), (log_b, w_b) = results["default"], results["mirrored"]
    assert log_a["loss"] == pytest.approx(log_b["loss"], rel=1e-4)
    assert log_a["accuracy"] == pytest.approx(log_b["accuracy"], abs=1e-6)
    for a, b in zip(w_a, w_b):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_auto_jit_policy_measures_both(digits_arrays):
    (x, y), _ = digits_arrays
    trainer = Trainer(mlp, LOSS, "adam", jit_compile="auto", jit_trial_steps=2, verbose=0)
    before = weights(trainer.model)
    trainer._choose_jit(from_arrays(x, y, 64, training=True).element_spec)
    assert set(trainer.jit_trial_ms) == {True, False}
    assert int(trainer.optimizer.iterations) == 0  # the trial leaves no trace
    for a, b in zip(before, weights(trainer.model)):
        np.testing.assert_array_equal(a, b)
    trainer.close()


def test_mixed_bfloat16_keeps_fp32_master_weights_and_logits(digits_arrays):
    (x, y), _ = digits_arrays
    trainer = Trainer(cnn, LOSS, "adam", precision="mixed_bfloat16", jit_compile=False, verbose=0)
    assert trainer.precision == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    assert all(v.dtype == "float32" for v in trainer.model.trainable_variables)
    assert trainer.model(x[:2]).dtype == "float32"
    trainer.fit(from_arrays(x, y, 64, training=True), epochs=1)
    assert np.isfinite(trainer.history.epochs[-1]["loss"])
    trainer.close()


def test_wrong_input_shape_is_a_clear_error(digits_arrays):
    (x, y), _ = digits_arrays
    trainer = Trainer(lambda: kerasdl.create_model("mlp"), LOSS, verbose=0)  # expects 28x28x1
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, 28, 28, 1\)"):
        trainer.fit(from_arrays(x, y, 32, training=True))
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        trainer.fit((x, y))
    trainer.close()


def test_fit_again_without_resume_starts_a_fresh_history(digits_arrays):
    (x, y), _ = digits_arrays
    trainer = Trainer(mlp, LOSS, "adam", jit_compile=False, verbose=0)
    assert trainer.checkpoint_dir is None  # a temporary one is made by fit, removed by close
    data = from_arrays(x, y, 64, training=True)
    trainer.fit(data, epochs=2)
    trainer.fit(data, epochs=2)
    assert [e["epoch"] for e in trainer.history.epochs] == [1, 2]
    directory = trainer.checkpoint_dir
    assert directory.is_dir()
    trainer.close()
    assert not directory.exists()


def test_negative_losses_are_not_blow_ups(digits_arrays):
    (x, y), _ = digits_arrays
    one_hot = np.eye(10, dtype="float32")[y]
    trainer = Trainer(mlp, keras.losses.CosineSimilarity(), "adam", jit_compile=False, verbose=0)
    trainer.fit(tf.data.Dataset.from_tensor_slices((x, one_hot)).batch(64, drop_remainder=True),
                epochs=3)
    assert trainer.history.epochs[-1]["loss"] < 0 and trainer.rollbacks == 0
    trainer.close()


def test_accuracy_follows_the_loss():
    trainer = Trainer(mlp, LOSS, metrics=["accuracy"], verbose=0)
    assert isinstance(trainer.train_metrics[1], keras.metrics.SparseCategoricalAccuracy)
    with pytest.raises(ValueError, match="ambiguous"):
        Trainer(mlp, "mse", metrics=["accuracy"], verbose=0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="jit_compile"):
        Trainer(mlp, LOSS, jit_compile="sometimes")
    with pytest.raises(ValueError, match="precision"):
        Trainer(mlp, LOSS, precision="int4")
    with pytest.raises(ValueError, match="strategy"):
        Trainer(mlp, LOSS, strategy="cluster")


def _two_input_model():
    a, b = keras.Input((3,)), keras.Input((2,))
    return keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Concatenate()([a, b])))


def test_two_input_model_trains():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(256, 3)).astype("float32"), rng.normal(size=(256, 2)).astype("float32")
    y = (a[:, 0] + b[:, 1] > 0).astype("int32")
    data = tf.data.Dataset.from_tensor_slices(((a, b), y)).batch(32)
    with Trainer(_two_input_model(), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 keras.optimizers.Adam(0.05), jit_compile=False, verbose=0) as trainer:
        history = trainer.fit(data, epochs=3)
    losses = [e["loss"] for e in history.epochs]
    assert losses[-1] < 0.5 * losses[0], losses


def test_input_count_mismatch_is_a_clear_error():
    data = tf.data.Dataset.from_tensor_slices((np.zeros((4, 3), "float32"), np.zeros(4, "int32"))).batch(2)
    with Trainer(_two_input_model(), "sparse_categorical_crossentropy", jit_compile=False, verbose=0) as trainer:
        with pytest.raises(ValueError, match="takes 2 inputs but the data yields 1"):
            trainer.fit(data)
