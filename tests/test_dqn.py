"""DQN: targets by hand (DQN and double DQN), the replay buffer, the target network's lag, the
dueling aggregation, and a tiny CartPole run that must beat the random policy."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.rl import RandomWalkEnv, TabularMDP, value_iteration
from kerasdl.rl.dqn import DQNAgent
from kerasdl.rl.evaluation import evaluate_greedy
from kerasdl.rl.replay import ReplayBuffer, sampling_draws
from kerasdl.train.dqn import DQNTrainer, td_targets


def test_td_targets_by_hand():
    rewards, terminated = np.array([1.0, 0.5, -1.0]), np.array([0.0, 1.0, 0.0])
    next_q_target = np.array([[1.0, 3.0], [2.0, 5.0], [-2.0, 4.0]])
    next_q_online = np.array([[4.0, 0.0], [0.0, 1.0], [0.5, 0.0]])
    # DQN: r + 0.9 max_a Q_target(s', a); the terminal transition keeps r alone
    np.testing.assert_allclose(td_targets(rewards, terminated, next_q_target, 0.9),
                               [1 + 0.9 * 3, 0.5, -1 + 0.9 * 4], rtol=1e-6)
    # double DQN: the online net picks a* (0, 1, 0), the target net rates it
    np.testing.assert_allclose(td_targets(rewards, terminated, next_q_target, 0.9, next_q_online),
                               [1 + 0.9 * 1, 0.5, -1 + 0.9 * -2], rtol=1e-6)


def filled_buffer(n=10, capacity=16):
    replay = ReplayBuffer(capacity, (4,))
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 4)).astype("float32")
    replay.add(obs, np.arange(n) % 2, np.arange(n, dtype="float32"), obs + 1.0, np.arange(n) % 3 == 0)
    return replay, obs


def test_replay_buffer_stores_wraps_and_samples_stored_rows():
    replay, obs = filled_buffer()
    assert replay.size == 10
    o, a, r, o2, done = (t.numpy() for t in replay.sample(tf.range(-5, 1000, dtype=tf.int64)))
    assert set(r.tolist()) == set(range(10))  # only stored rows, all of them
    np.testing.assert_allclose(o[r.astype(int) == 3], obs[[3]].repeat((r == 3).sum(), 0))
    np.testing.assert_allclose(o2, o + 1.0)
    np.testing.assert_array_equal(done, (r % 3 == 0).astype("float32"))
    replay.add(obs, np.zeros(10), np.full(10, 100.0), obs, np.zeros(10))  # wraps: 20 > 16
    assert replay.size == 16 and int(replay.added.numpy()) == 20
    rewards = replay.rewards.numpy()
    np.testing.assert_array_equal(rewards[:4], 100.0)  # rows 16..19 overwrote the oldest 0..3
    np.testing.assert_array_equal(rewards[4:10], np.arange(4, 10))
    with pytest.raises(ValueError, match=r"next_observations must have shape \(2, 4\)"):
        replay.add(obs[:2], [0, 1], [0, 0], obs[:2, :3], [0, 0])


def trainer(period=None, tau=None, double=True):
    replay, _ = filled_buffer()
    q = kerasdl.create_model("q_network", observation_dim=4, num_actions=2, hidden_units=(8,))
    return DQNTrainer(q, replay, keras.optimizers.Adam(1e-2), gamma=0.9, double=double,
                      target_update_period=period, tau=tau, jit_compile=False, verbose=0)


def run_steps(t, n):
    """``n`` gradient steps through the Trainer's compiled loop (the contract checks XLA)."""
    t._make_train_function(False)(iter(sampling_draws(8).repeat()), tf.constant(n))


def test_target_network_lags_and_double_dqn_targets_use_both_networks():
    t = trainer(period=3)
    start = [w.copy() for w in t.model.get_weights()]
    run_steps(t, 2)
    lagging = t.target_network.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(lagging, start))  # still the initial copy
    assert not all(np.array_equal(a, b) for a, b in zip(t.model.get_weights(), start))
    next_obs = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    expected = td_targets(np.ones(5), np.zeros(5), t.target_network(next_obs).numpy(), 0.9,
                          t.model(next_obs).numpy())
    np.testing.assert_allclose(t.targets(np.ones(5), next_obs, np.zeros(5)), expected, rtol=1e-5)
    run_steps(t, 1)  # step 3: hard copy
    assert all(np.array_equal(a, b) for a, b in zip(t.target_network.get_weights(),
                                                    t.model.get_weights()))


def test_polyak_target_update():
    t = trainer(tau=0.25)
    target_before = t.target_network.get_weights()
    run_steps(t, 1)
    for target, online, before in zip(t.target_network.get_weights(), t.model.get_weights(),
                                      target_before):
        np.testing.assert_allclose(target, 0.25 * online + 0.75 * before, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="exactly one of target_update_period"):
        trainer(period=3, tau=0.1)


def test_dueling_head_is_value_plus_centred_advantage():
    model = kerasdl.create_model("q_network", observation_dim=4, num_actions=3, hidden_units=(8,),
                                 dueling=True)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    parts = keras.Model(model.inputs[0], [model.get_layer("value").output,
                                       model.get_layer("advantage").output])
    value, advantage = (np.asarray(p) for p in parts(x))
    np.testing.assert_allclose(model(x), value + advantage - advantage.mean(-1, keepdims=True),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("double", [False, True])
def test_dqn_on_a_full_replay_of_a_known_mdp_learns_q_star(double):
    """Every transition of the random walk (one-hot states) in the buffer: DQN's fixed point is
    the optimal Q of value iteration."""
    env, eye = RandomWalkEnv(), np.eye(7, dtype="float32")
    optimal = value_iteration(TabularMDP.from_gymnasium(env), 0.9).q
    rows = [(eye[s], a, *env.P[s][a][0][1:]) for s in range(1, 6) for a in (0, 1)]
    replay = ReplayBuffer(10, (7,))
    replay.add([r[0] for r in rows], [r[1] for r in rows], [r[3] for r in rows],
               [eye[r[2]] for r in rows], [r[4] for r in rows])
    q = kerasdl.create_model("q_network", observation_dim=7, num_actions=2, hidden_units=(32,))
    t = DQNTrainer(q, replay, keras.optimizers.Adam(1e-2), gamma=0.9, double=double,
                   target_update_period=25, jit_compile=False, steps_per_execution=200, verbose=0)
    t.fit(sampling_draws(10), epochs=1, steps_per_epoch=1600)
    np.testing.assert_allclose(q(eye[1:6]), optimal[1:6], atol=0.01)  # seen 5e-4
    t.close()


def test_tiny_dqn_run_beats_the_random_policy(tmp_path):
    rng = np.random.default_rng(0)
    random_return = evaluate_greedy(lambda obs: rng.random((len(obs), 2)), "CartPole-v1", 20).mean()
    settings = dict(hidden_units=(64, 64), num_envs=4, batch_size=32, learning_starts=500,
                    learning_rate=2.3e-3, seed=0, jit_compile=False,
                    checkpoint_dir=tmp_path / "ckpt", verbose=0)
    agent = DQNAgent(**settings, target_update_period=128, eval_every=4, eval_episodes=10,
                     epsilon=lambda step: max(0.05, 1 - step / 2500))
    history = agent.learn(500 + 8 * 256)  # 8 blocks of 256 env steps and 128 gradient steps
    assert agent.env_steps == 500 + 8 * 256 and len(history.epochs) == 8
    # seeds 0-2 reached 157, 166, 173 after 8 blocks; the random policy ~22
    assert agent.best_return > 3 * random_return, (agent.evaluations, random_return)
    assert {"loss", "epsilon", "eval_return"} <= set(history.epochs[-1])
    # the checkpoint holds the replay buffer and the target network: a resumed agent continues
    resumed = DQNAgent(**settings)
    resumed.learn(500 + 9 * 256, resume=True)
    assert resumed.env_steps == agent.env_steps + 256
    np.testing.assert_array_equal(resumed.replay.rewards.numpy()[:agent.env_steps],
                                  agent.replay.rewards.numpy()[:agent.env_steps])
    agent.close()
    resumed.close()
