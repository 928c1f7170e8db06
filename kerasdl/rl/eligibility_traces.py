"""Sarsa(λ): Sarsa with eligibility traces (Sutton & Barto, 12.7, tabular form).

Every visited (s, a) keeps a trace e(s, a) that decays by γλ per step; each TD error
δ = r + γ Q(s', a') - Q(s, a) updates all of them at once, Q <- Q + α δ e. λ = 0 is one-step Sarsa,
λ -> 1 approaches the Monte-Carlo return. Accumulating traces add 1 per visit; replacing traces
reset the visited pair's trace to 1 (more stable when a state repeats within an episode).
"""
from __future__ import annotations

import numpy as np

from kerasdl.rl.episodes import TabularRun, check_rate, td_episodes

TRACES = ("accumulating", "replacing")


def sarsa_lambda_update(q, traces, state, action, reward, next_state, next_action, terminated,
                        alpha, gamma, lam, trace="replacing") -> float:
    """Apply one Sarsa(λ) step to ``q`` and ``traces`` (both [S, A]) in place; returns δ."""
    if trace not in TRACES:
        raise ValueError(f"trace must be one of {TRACES}, got {trace!r}")
    target = reward + (0.0 if terminated else gamma * q[next_state, next_action])
    error = target - q[state, action]
    traces[state, action] = traces[state, action] + 1.0 if trace == "accumulating" else 1.0
    q += alpha * error * traces
    traces *= gamma * lam
    return float(error)


def sarsa_lambda(env, episodes, *, lam=0.9, alpha=0.1, gamma=1.0, epsilon=0.1,
                 trace="replacing", seed=None, max_steps=10_000) -> TabularRun:
    """Tabular Sarsa(λ) with ε-greedy exploration; traces restart at 0 each episode."""
    alpha, gamma, lam = check_rate("alpha", alpha), check_rate("gamma", gamma), check_rate("lam", lam)
    if trace not in TRACES:
        raise ValueError(f"trace must be one of {TRACES}, got {trace!r}")
    traces = np.zeros((env.observation_space.n, env.action_space.n))

    def update(q, state, action, reward, next_state, next_action, terminated):
        sarsa_lambda_update(q, traces, state, action, reward, next_state, next_action, terminated,
                            alpha, gamma, lam, trace)

    return td_episodes(env, episodes, update, epsilon=epsilon, seed=seed, max_steps=max_steps,
                       on_episode_start=lambda: traces.fill(0.0))
