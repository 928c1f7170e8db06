"""First-visit Monte-Carlo control with ε-soft policies (Sutton & Barto, 5.4).

Unlike TD methods, Monte Carlo waits for the episode to end: Q(s, a) is the average of the returns
G_t that followed the first visit of (s, a) in each episode — no bootstrapping, no model.
"""
from __future__ import annotations

import numpy as np

from kerasdl.rl.episodes import TabularRun, check_rate, discrete_sizes
from kerasdl.rl.exploration import epsilon_greedy


def first_visit_returns(pairs, rewards, gamma) -> dict:
    """``{(s, a): G}`` for the first visit of each pair in one episode, where ``rewards[t]``
    follows ``pairs[t]`` and ``G_t = r_t + gamma G_{t+1}``."""
    if len(pairs) != len(rewards):
        raise ValueError(f"one reward per (state, action): {len(pairs)} pairs, {len(rewards)} rewards")
    returns, g = {}, 0.0
    for pair, reward in zip(reversed(pairs), reversed(rewards)):
        g = reward + gamma * g
        returns[tuple(int(v) for v in pair)] = g  # overwritten by earlier visits: first visit wins
    return returns


def mc_control(env, episodes, *, gamma=1.0, epsilon=0.1, seed=None, max_steps=10_000) -> TabularRun:
    """On-policy first-visit MC control: act ε-greedily on Q, then average first-visit returns."""
    num_states, num_actions = discrete_sizes(env)
    gamma, epsilon = check_rate("gamma", gamma), check_rate("epsilon", epsilon)
    if int(episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    rng = np.random.default_rng(seed)
    run = TabularRun(np.zeros((num_states, num_actions)))
    counts = np.zeros_like(run.q)
    for episode in range(int(episodes)):
        state, _ = env.reset(seed=seed if episode == 0 else None)
        pairs, rewards = [], []
        for _ in range(int(max_steps)):
            action = epsilon_greedy(run.q[state], epsilon, rng)
            next_state, reward, terminated, truncated, _ = env.step(action)
            pairs.append((state, action))
            rewards.append(float(reward))
            state = next_state
            if terminated or truncated:
                break
        for (s, a), g in first_visit_returns(pairs, rewards, gamma).items():
            counts[s, a] += 1
            run.q[s, a] += (g - run.q[s, a]) / counts[s, a]  # incremental mean of the returns
        run.returns.append(sum(rewards))
        run.lengths.append(len(rewards))
    return run
