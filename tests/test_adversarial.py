"""GANTrainer: the objectives' formulas, gradient penalty, clipping, critic steps, conditional
training, checkpoints of both networks, and a 1-D toy GAN that learns the data mean."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.train.adversarial import (GAN_OBJECTIVES, GANTrainer, discriminator_loss,
                                       generator_loss, gradient_penalty)


def _sig(x):
    return 1 / (1 + np.exp(-x))


R = np.array([[1.5], [-0.3], [0.2]], "float32")
F = np.array([[-2.0], [0.4], [1.1]], "float32")


def _expected(objective):
    r, f = R[:, 0].astype(np.float64), F[:, 0].astype(np.float64)
    if objective in ("minimax", "non_saturating"):
        d = -np.log(_sig(r)) - np.log(1 - _sig(f))
        g = np.log(1 - _sig(f)) if objective == "minimax" else -np.log(_sig(f))
    elif objective == "least_squares":
        d, g = 0.5 * (r - 1) ** 2 + 0.5 * f ** 2, 0.5 * (f - 1) ** 2
    elif objective == "wasserstein":
        d, g = f - r, -f
    elif objective == "hinge":
        d, g = np.maximum(0, 1 - r) + np.maximum(0, 1 + f), -f
    else:  # relativistic average
        d = -np.log(_sig(r - f.mean())) - np.log(1 - _sig(f - r.mean()))
        g = -np.log(_sig(f - r.mean())) - np.log(1 - _sig(r - f.mean()))
    return d, g


@pytest.mark.parametrize("objective", GAN_OBJECTIVES)
def test_objective_formulas(objective):
    d, g = _expected(objective)
    np.testing.assert_allclose(discriminator_loss(objective, R, F), d, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(generator_loss(objective, R, F), g, rtol=1e-5, atol=1e-6)


def test_one_sided_label_smoothing_changes_only_the_real_target():
    s = 0.1
    r, f = R[:, 0].astype(np.float64), F[:, 0].astype(np.float64)
    bce_real = -(1 - s) * np.log(_sig(r)) - s * np.log(1 - _sig(r))
    np.testing.assert_allclose(discriminator_loss("non_saturating", R, F, s),
                               bce_real - np.log(1 - _sig(f)), rtol=1e-5)
    with pytest.raises(ValueError, match="label_smoothing"):
        GANTrainer(_generator(), _critic(), "wasserstein", label_smoothing=0.1, verbose=0)


def test_minimax_generator_saturates_where_non_saturating_does_not():
    """When D confidently rejects fakes (logit −8), d/df log(1−σ(f)) ≈ 0 while d/df −log σ(f) ≈ −1
    (Goodfellow et al. 2014, the reason for the non-saturating loss)."""
    f = tf.constant([[-8.0]])
    grads = {}
    for objective in ("minimax", "non_saturating"):
        with tf.GradientTape() as tape:
            tape.watch(f)
            loss = tf.reduce_sum(generator_loss(objective, f, f))
        grads[objective] = float(tape.gradient(loss, f)[0, 0])
    assert abs(grads["minimax"]) < 1e-3 and grads["non_saturating"] < -0.99


def test_gradient_penalty_of_a_linear_critic_is_exact():
    """D(x) = w·x has ‖∇D‖ = ‖w‖ everywhere, so the penalty is (‖w‖ − 1)² for any interpolate."""
    critic = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False)])
    w = np.array([[2.0], [1.0], [2.0]], "float32")  # ‖w‖ = 3
    critic.set_weights([w])
    real, fake = np.random.rand(8, 3).astype("float32"), np.random.rand(8, 3).astype("float32")
    assert float(gradient_penalty(critic, real, fake)) == pytest.approx(4.0, rel=1e-5)


def _generator(latent=4, conditional=False):
    z = keras.Input((latent,))
    inputs = [z, keras.Input((), dtype="int32")] if conditional else z
    h = z
    if conditional:
        h = keras.layers.Concatenate()([z, keras.layers.Embedding(3, 2)(inputs[1])])
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(16, "relu")(h)))


def _critic(conditional=False):
    x = keras.Input((1,))
    inputs = [x, keras.Input((), dtype="int32")] if conditional else x
    h = x
    if conditional:
        h = keras.layers.Concatenate()([x, keras.layers.Embedding(3, 2)(inputs[1])])
    h = keras.layers.Dense(16, name="features")(h)
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LeakyReLU(0.2)(h)))


def _data(n=2048, mean=1.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(mean, 0.5, (n, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, np.zeros(n, "int32"))).batch(64)


@pytest.mark.parametrize("objective,options", [
    ("non_saturating", {}),
    ("wasserstein", {"gradient_penalty": 1.0, "d_steps": 2}),
    ("least_squares", {"feature_matching": "features"}),
])
def test_toy_gan_learns_the_data_mean(objective, options):
    keras.utils.set_random_seed(0)
    g, d = _generator(), _critic()
    trainer = GANTrainer(g, d, objective, g_optimizer=keras.optimizers.Adam(5e-3, beta_1=0.5),
                         d_optimizer=keras.optimizers.Adam(5e-3, beta_1=0.5), jit_compile=True,
                         verbose=0,
                         steps_per_execution=16, seed=1, **options)
    before = float(np.mean(trainer.sample(256)))
    history = trainer.fit(_data(), epochs=8)
    after = float(np.mean(trainer.sample(256)))
    assert abs(after - 1.0) < 0.3 and abs(before - 1.0) > 0.7, (before, after)
    assert {"d_loss", "g_loss"} <= set(history.epochs[-1])
    trainer.close()


def test_critic_steps_clipping_and_checkpointed_optimizers(tmp_path):
    g, d = _generator(), _critic()
    trainer = GANTrainer(g, d, "wasserstein", d_steps=4, clip_weights=0.01, jit_compile=True,
                         checkpoint_dir=tmp_path, verbose=0)
    trainer.fit(_data(512), epochs=1)  # 8 steps
    assert int(trainer.optimizer.iterations) == 8 and int(trainer.g_optimizer.iterations) == 2
    assert max(float(np.abs(v).max()) for v in d.trainable_weights) <= 0.01 + 1e-7
    g_weights = [w.copy() for w in g.get_weights()]
    resumed = GANTrainer(_generator(), _critic(), "wasserstein", d_steps=4, clip_weights=0.01,
                         checkpoint_dir=tmp_path, jit_compile=False, verbose=0)
    resumed.fit(_data(512), epochs=1, resume=True)  # already done: restores, trains nothing
    for a, b in zip(resumed.generator.get_weights(), g_weights):
        np.testing.assert_array_equal(a, b)
    assert int(resumed.g_optimizer.iterations) == 2


def test_conditional_gan_step_and_input_checks():
    g, d = _generator(conditional=True), _critic(conditional=True)
    trainer = GANTrainer(g, d, "hinge", jit_compile=False, verbose=0)
    x = np.random.rand(64, 1).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, np.arange(64, dtype="int32") % 3)).batch(16)
    logs = trainer.fit(data, epochs=1).epochs[-1]
    assert np.isfinite([logs["d_loss"], logs["g_loss"]]).all()
    assert trainer.sample(5, labels=[0, 1, 2, 0, 1]).shape == (5, 1)
    with pytest.raises(ValueError, match="labels"):
        trainer.sample(2)
    with pytest.raises(ValueError, match="label input"):
        GANTrainer(_generator(conditional=True), _critic(), verbose=0)
    wrong = tf.data.Dataset.from_tensor_slices((np.zeros((8, 2), "float32"),
                                                np.zeros(8, "int32"))).batch(4)
    with pytest.raises(ValueError, match="expects inputs of shape"):
        trainer.fit(wrong)
