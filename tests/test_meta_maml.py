"""MAML: the meta-gradient against a hand-derived one on a linear model (itself checked by finite
differences), first order = second order minus exactly the Hessian term, the sinusoid task
generator, and adaptation after meta-training on fresh sinusoids."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.data.sinusoid import sinusoid_batch, sinusoid_tasks
from kerasdl.meta import MAMLTrainer, adaptation_curve, functional_call

ALPHA, NUM_TASKS, K, Q, D = 0.05, 3, 4, 5, 2


def linear_model(kernel=(0.5, -1.0), bias=0.25):
    inputs = keras.Input((D,))
    init = keras.initializers.Constant
    return keras.Model(inputs, keras.layers.Dense(1, kernel_initializer=init(np.reshape(kernel, (D, 1))),
                                                  bias_initializer=init(bias))(inputs))


def linear_tasks(rng):
    xs, xq = rng.normal(size=(NUM_TASKS, K, D)), rng.normal(size=(NUM_TASKS, Q, D))
    ys, yq = rng.normal(size=(NUM_TASKS, K, 1)), rng.normal(size=(NUM_TASKS, Q, 1))
    return [a.astype("float32") for a in (xs, xq, ys, yq)]


def with_ones(x):
    return np.concatenate([x, np.ones((len(x), 1))], axis=1).astype("float64")


def mse_grad_hessian(theta, x, y):
    """Gradient and Hessian of mean (x̃ᵀθ − y)² in θ = [w; b]."""
    xt = with_ones(x)
    return 2 / len(x) * xt.T @ (xt @ theta - y[:, 0]), 2 / len(x) * xt.T @ xt


def hand_meta_gradient(theta, tasks, first_order):
    """(1/T) Σ (I − α H_support) ∇L_query(θ') with θ' = θ − α ∇L_support(θ); FOMAML drops H."""
    xs, xq, ys, yq = tasks
    total = np.zeros_like(theta)
    for t in range(NUM_TASKS):
        g_s, h_s = mse_grad_hessian(theta, xs[t], ys[t])
        g_q, _ = mse_grad_hessian(theta - ALPHA * g_s, xq[t], yq[t])
        total += g_q if first_order else (np.eye(len(theta)) - ALPHA * h_s) @ g_q
    return total / NUM_TASKS


def meta_objective(theta, tasks):
    xs, xq, ys, yq = tasks
    losses = []
    for t in range(NUM_TASKS):
        adapted = theta - ALPHA * mse_grad_hessian(theta, xs[t], ys[t])[0]
        losses.append(np.mean((with_ones(xq[t]) @ adapted - yq[t][:, 0]) ** 2))
    return np.mean(losses)


def flat(model):
    kernel, bias = (v.numpy().astype("float64") for v in model.trainable_variables)
    return np.concatenate([kernel[:, 0], bias])


def trainer_meta_gradient(tasks, first_order, jit):
    """θ_before − θ_after of one train step with SGD(learning rate 1) = the meta-gradient."""
    model = linear_model()
    trainer = MAMLTrainer(model, "mse", keras.optimizers.SGD(1.0), inner_step_size=ALPHA,
                          first_order=first_order, jit_compile=jit, verbose=0)
    theta = flat(model)
    xs, xq, ys, yq = tasks
    step = tf.function(trainer.train_step, jit_compile=jit)
    step(((xs, xq), (ys, yq)))
    trainer.close()
    return theta, theta - flat(model)


def test_hand_derived_meta_gradient_matches_finite_differences():
    tasks = [a.astype("float64") for a in linear_tasks(np.random.default_rng(0))]
    theta = np.random.default_rng(1).normal(size=D + 1)
    eps, numeric = 1e-6, np.zeros(D + 1)
    for i in range(D + 1):
        e = np.eye(D + 1)[i] * eps
        numeric[i] = (meta_objective(theta + e, tasks) - meta_objective(theta - e, tasks)) / (2 * eps)
    np.testing.assert_allclose(hand_meta_gradient(theta, tasks, False), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("jit", [False, True], ids=["vectorized", "xla_map_fn"])
def test_second_order_meta_gradient_is_exact(jit):
    tasks = linear_tasks(np.random.default_rng(2))
    theta, grad = trainer_meta_gradient(tasks, first_order=False, jit=jit)
    np.testing.assert_allclose(grad, hand_meta_gradient(theta, tasks, False), rtol=1e-4, atol=1e-5)


def test_first_order_drops_exactly_the_hessian_term():
    tasks = linear_tasks(np.random.default_rng(3))
    theta, second = trainer_meta_gradient(tasks, first_order=False, jit=False)
    _, first = trainer_meta_gradient(tasks, first_order=True, jit=False)
    np.testing.assert_allclose(first, hand_meta_gradient(theta, tasks, True), rtol=1e-4, atol=1e-5)
    xs, xq, ys, yq = tasks
    hessian_term = np.zeros_like(theta)  # −(α/T) Σ H_support ∇L_query(θ')
    for t in range(NUM_TASKS):
        g_s, h_s = mse_grad_hessian(theta, xs[t], ys[t])
        g_q, _ = mse_grad_hessian(theta - ALPHA * g_s, xq[t], yq[t])
        hessian_term -= ALPHA * h_s @ g_q / NUM_TASKS
    assert np.abs(hessian_term).max() > 1e-3  # the term is not negligible here
    np.testing.assert_allclose(second - first, hessian_term, rtol=1e-3, atol=1e-5)


def test_functional_call_uses_the_given_weights_and_leaves_variables():
    model = linear_model()
    before = flat(model)
    x = np.ones((2, D), "float32")
    zeros = [tf.zeros_like(v) for v in model.trainable_variables]
    np.testing.assert_array_equal(functional_call(model, zeros, x), np.zeros((2, 1)))
    np.testing.assert_array_equal(flat(model), before)
    with pytest.raises(ValueError, match="2 trainable variables but 1"):
        functional_call(model, zeros[:1], x)


def test_sinusoid_tasks_follow_the_paper_and_are_stateless():
    b = {k: v.numpy() for k, v in sinusoid_batch(7, 3, 25, 5, 15).items()}
    assert b["support_x"].shape == (25, 5, 1) and b["query_y"].shape == (25, 15, 1)
    assert 0.1 <= b["amplitude"].min() and b["amplitude"].max() <= 5.0
    assert 0.0 <= b["phase"].min() and b["phase"].max() <= np.pi
    assert -5 <= b["support_x"].min() and b["query_x"].max() <= 5
    truth = b["amplitude"][:, None, None] * np.sin(b["query_x"] - b["phase"][:, None, None])
    np.testing.assert_allclose(b["query_y"], truth, atol=1e-5)
    again = sinusoid_batch(7, 3, 25, 5, 15)["amplitude"].numpy()
    other = sinusoid_batch(8, 3, 25, 5, 15)["amplitude"].numpy()
    assert np.array_equal(b["amplitude"], again) and not np.allclose(b["amplitude"], other)
    (xs, _), _ = next(iter(sinusoid_tasks(25, 5, 15, seed=7).skip(3)))
    np.testing.assert_array_equal(xs, b["support_x"])
    assert int(sinusoid_tasks(num_batches=4).cardinality()) == 4
    with pytest.raises(ValueError, match="support_shots must be >= 1"):
        sinusoid_tasks(support_shots=0)


def test_meta_training_makes_one_step_adaptation_work_on_fresh_tasks():
    def learner():
        return kerasdl.create_model("mlp", num_classes=1, input_shape=(1,), hidden_units=(40, 40))

    trainer = MAMLTrainer(learner, "mse", inner_step_size=0.01, jit_compile=False,
                          steps_per_execution=100, verbose=0)
    trainer.fit(sinusoid_tasks(25, 10, 10, seed=0), epochs=1, steps_per_epoch=400)
    (xs, xq), (ys, yq) = fresh = next(iter(sinusoid_tasks(200, 10, 50, seed=1)))
    query = adaptation_curve(trainer.model, trainer.loss_fn, fresh, step_size=0.01, steps=3).numpy()
    support = adaptation_curve(trainer.model, trainer.loss_fn, ((xs, xs), (ys, ys)),
                               step_size=0.01, steps=3).numpy()
    assert query.shape == support.shape == (200, 4)
    assert query[:, 1].mean() < 0.8 * query[:, 0].mean(), query.mean(0)  # the meta-objective
    assert (np.diff(support.mean(0)) < 0).all(), support.mean(0)
    logs = trainer.evaluate(sinusoid_tasks(200, 10, 50, seed=1, num_batches=1))
    np.testing.assert_allclose(logs["loss"], query[:, 1].mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["pre_adaptation_loss"], query[:, 0].mean(), rtol=1e-5)
    trainer.close()


def test_mean_confidence_interval_matches_scipy():
    from scipy import stats

    from kerasdl.metrics import mean_confidence_interval

    values = np.random.default_rng(4).normal(3.0, 2.0, 600)
    mean, half = mean_confidence_interval(values)
    low, high = stats.norm.interval(0.95, loc=values.mean(), scale=stats.sem(values))
    np.testing.assert_allclose([mean - half, mean + half], [low, high], rtol=1e-12)
    with pytest.raises(ValueError, match="at least 2 values"):
        mean_confidence_interval([1.0])


def test_meta_training_resumes_exactly_from_its_checkpoint(tmp_path):
    """A new Trainer resumes from the checkpoint (learner, Adam, the task stream's position)
    exactly where an uninterrupted run goes on."""
    def train(directory, epochs, resume):
        keras.utils.set_random_seed(3)
        trainer = MAMLTrainer(linear_model(), "mse", inner_step_size=ALPHA, jit_compile=False,
                              checkpoint_dir=directory, steps_per_execution=5, verbose=0)
        trainer.fit(sinusoid_tasks(4, 3, 3, seed=0).map(
            lambda x, y: (tuple(tf.tile(t, [1, 1, D]) for t in x), y)),
            epochs=epochs, steps_per_epoch=10, resume=resume)
        trainer.close()
        return flat(trainer.model)

    straight = train(tmp_path / "a", 2, False)
    train(tmp_path / "b", 1, False)
    resumed = train(tmp_path / "b", 2, True)
    np.testing.assert_allclose(resumed, straight, rtol=1e-6, atol=1e-7)
    assert not np.allclose(straight, flat(linear_model()))
