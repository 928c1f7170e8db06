"""Tabular RL against independent computations: the linear solve of the Bellman equation, hand
updates, the random walk's known values, and Sutton & Barto's CliffWalking result."""
import gymnasium as gym
import numpy as np
import pytest

from kerasdl.rl import (TRUE_VALUES, RandomWalkEnv, TabularMDP, first_visit_returns,
                        greedy_rollout, mc_control, policy_evaluation, policy_iteration,
                        q_learning, q_learning_update, sarsa, sarsa_lambda_update, sarsa_update,
                        td0_prediction, value_iteration)


def linear_solve(env, policy, gamma):
    """V_pi from (I - gamma P_pi) V = R_pi, with P_pi and R_pi read straight from env.unwrapped.P."""
    n = env.observation_space.n
    p_pi, r_pi = np.zeros((n, n)), np.zeros(n)
    for s, by_action in env.unwrapped.P.items():
        for a, outcomes in by_action.items():
            for prob, s_next, reward, terminated in outcomes:
                r_pi[s] += policy[s, a] * prob * reward
                if not terminated:
                    p_pi[s, s_next] += policy[s, a] * prob
    return np.linalg.solve(np.eye(n) - gamma * p_pi, r_pi)


def two_state_mdp():
    """State 0: stay (+1) or move to 1 (0); state 1: stay (+2) or move to 0 (0). With gamma 0.9:
    V*(1) = 2 / (1 - 0.9) = 20, V*(0) = max(1 / (1 - 0.9), 0.9 * 20) = 18, policy [move, stay]."""
    p = np.zeros((2, 2, 2))
    p[0, 0, 0] = p[0, 1, 1] = p[1, 0, 1] = p[1, 1, 0] = 1.0
    return TabularMDP(p, np.array([[1.0, 0.0], [2.0, 0.0]]))


@pytest.mark.parametrize("map_name", ["4x4", "8x8"])
def test_policy_evaluation_matches_linear_solve(map_name):
    env = gym.make("FrozenLake-v1", map_name=map_name)
    n, actions = env.observation_space.n, env.action_space.n
    policy = np.random.default_rng(0).dirichlet(np.ones(actions), size=n)
    values = policy_evaluation(TabularMDP.from_gymnasium(env), policy, gamma=0.95)
    np.testing.assert_allclose(values, linear_solve(env, policy, 0.95), atol=1e-8)


def test_value_iteration_equals_policy_iteration():
    mdp = two_state_mdp()
    for result in (value_iteration(mdp, 0.9), policy_iteration(mdp, 0.9)):
        np.testing.assert_allclose(result.values, [18.0, 20.0], atol=1e-8)
        np.testing.assert_array_equal(result.policy, [1, 0])
    for map_name in ("4x4", "8x8"):
        mdp = TabularMDP.from_gymnasium(gym.make("FrozenLake-v1", map_name=map_name))
        vi, pi = value_iteration(mdp, 0.99), policy_iteration(mdp, 0.99)
        np.testing.assert_allclose(vi.values, pi.values, atol=1e-8)
        # the optimal policy's own values solve its Bellman equation
        np.testing.assert_allclose(pi.values, np.linalg.solve(
            np.eye(mdp.num_states) - 0.99 * mdp.under_policy(pi.policy)[0],
            mdp.under_policy(pi.policy)[1]), atol=1e-8)
        assert pi.iterations < 20 < vi.iterations  # PI needs few improvements, VI many sweeps


def test_q_learning_and_sarsa_updates_are_the_formulas():
    q = np.array([[0.5, 0.0], [2.0, -1.0]])
    # Q-learning: 0.5 + 0.5 * (-1 + 0.9 * max(2, -1) - 0.5) = 0.65
    assert q_learning_update(q, 0, 0, -1.0, 1, False, alpha=0.5, gamma=0.9) == pytest.approx(0.3)
    assert q[0, 0] == pytest.approx(0.65)
    # Sarsa uses the action taken next (1, worth -1), not the max: 0.65 + 0.5 (-1 - 0.9 - 0.65)
    assert sarsa_update(q, 0, 0, -1.0, 1, 1, False, alpha=0.5, gamma=0.9) == pytest.approx(-2.55)
    assert q[0, 0] == pytest.approx(0.65 - 1.275)
    # a terminal transition does not bootstrap
    q_learning_update(q, 1, 1, 3.0, 0, True, alpha=0.25, gamma=0.9)
    assert q[1, 1] == pytest.approx(-1.0 + 0.25 * 4.0)


def test_sarsa_lambda_update_by_hand():
    q, traces = np.zeros((3, 2)), np.zeros((3, 2))
    q[1, 0], q[2, 1] = 1.0, 2.0
    # step 1 from (0, 1): delta = 0 + 0.9 * Q(1, 0) - 0 = 0.9, only (0, 1) is eligible
    delta = sarsa_lambda_update(q, traces, 0, 1, 0.0, 1, 0, False, 0.5, 0.9, 0.8, "accumulating")
    assert delta == pytest.approx(0.9) and q[0, 1] == pytest.approx(0.45)
    assert traces[0, 1] == pytest.approx(0.72)
    # step 2 from (1, 0): delta = 1 + 0.9 * 2 - 1 = 1.8 updates (1, 0) fully and (0, 1) by 0.72
    delta = sarsa_lambda_update(q, traces, 1, 0, 1.0, 2, 1, False, 0.5, 0.9, 0.8, "accumulating")
    assert delta == pytest.approx(1.8)
    assert q[1, 0] == pytest.approx(1.0 + 0.5 * 1.8)
    assert q[0, 1] == pytest.approx(0.45 + 0.5 * 1.8 * 0.72)
    # lambda = 0 is one-step Sarsa
    q1, q2 = np.random.default_rng(0).normal(size=(2, 3, 2))
    q2 = q1.copy()
    sarsa_lambda_update(q1, np.zeros((3, 2)), 2, 0, 0.5, 1, 1, False, 0.3, 0.9, 0.0)
    sarsa_update(q2, 2, 0, 0.5, 1, 1, False, 0.3, 0.9)
    np.testing.assert_allclose(q1, q2)
    with pytest.raises(ValueError, match="trace must be one of"):
        sarsa_lambda_update(q1, traces, 0, 0, 0.0, 1, 1, False, 0.5, 0.9, 0.8, "dutch")


def test_td0_learns_the_random_walk_values():
    env = RandomWalkEnv()
    uniform = np.full((7, 2), 0.5)
    np.testing.assert_allclose(linear_solve(env, uniform, 1.0)[1:6], TRUE_VALUES, atol=1e-12)
    values = td0_prediction(env, uniform, 2000, alpha=0.02, initial_value=0.5, seed=0)
    assert values[0] == values[6] == 0.0
    assert np.sqrt(np.mean((values[1:6] - TRUE_VALUES) ** 2)) < 0.03  # seen 0.007


def test_first_visit_returns_by_hand():
    # gamma 0.5, rewards 1, 2, 3, 4: G3 = 4, G2 = 5, G1 = 4.5, G0 = 3.25; (0, 1) counts at t = 0
    got = first_visit_returns([(0, 1), (1, 0), (0, 1), (2, 1)], [1.0, 2.0, 3.0, 4.0], 0.5)
    assert got == {(0, 1): 3.25, (1, 0): 4.5, (2, 1): 4.0}


def success_probability(mdp, policy, horizon=100):
    """P(reaching the goal within FrozenLake's 100-step limit): the finite-horizon values of the
    policy's reward process (reward 1 only on reaching the goal)."""
    p_pi, r_pi = mdp.under_policy(policy)
    values = np.zeros(mdp.num_states)
    for _ in range(horizon):
        values = r_pi + p_pi @ values
    return values[0]


def test_monte_carlo_control_learns_frozen_lake():
    env = gym.make("FrozenLake-v1")  # slippery: the uniform random policy succeeds 1.4% of the time
    mdp = TabularMDP.from_gymnasium(env)
    optimal = success_probability(mdp, value_iteration(mdp, 0.99).policy)
    learnt = success_probability(mdp, mc_control(env, 3000, gamma=0.99, epsilon=0.2, seed=0).policy)
    random = success_probability(mdp, np.full((16, 4), 0.25))
    # 3,000 episodes: seeds 0-3 reached 0.73, 0.39, 0.51, 0.41 (optimal 0.74)
    assert random < 0.02 and optimal > 0.7 and learnt > 0.3, (random, learnt, optimal)


def test_cliff_walking_q_learning_takes_the_edge_sarsa_the_safe_path():
    """Sutton & Barto, Example 6.6 (epsilon 0.1, alpha 0.5, gamma 1)."""
    env = gym.make("CliffWalking-v1")
    edge = [s for s in range(24, 36) if s % 12 not in (0, 11)]  # row 2 between start and goal
    q_path, q_return = greedy_rollout(env, q_learning(env, 500, seed=0).q, max_steps=100)
    s_path, s_return = greedy_rollout(env, sarsa(env, 500, seed=0).q, max_steps=100)
    assert len(q_path) - 1 == 13 and q_return == -13 and set(edge) <= set(q_path)
    assert s_path[-1] == 47 and len(s_path) - 1 > 13 and not set(edge) & set(s_path), s_path


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="Discrete observation space"):
        q_learning(gym.make("CartPole-v1"), 1)
    with pytest.raises(ValueError, match=r"rewards must have shape \[S, A\]"):
        TabularMDP(np.zeros((2, 2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="summing to at most 1"):
        TabularMDP(np.ones((2, 1, 2)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="alpha must lie in"):
        sarsa(gym.make("CliffWalking-v1"), 1, alpha=2.0)
    with pytest.raises(ValueError, match="a policy is"):
        policy_evaluation(two_state_mdp(), np.zeros(3, dtype=int), 0.9)
