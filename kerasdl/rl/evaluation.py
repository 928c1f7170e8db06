"""Greedy evaluation of a Q-function on gymnasium environments, batched over a vector env.

``q_values`` is any function from an observation batch ``[N, ...]`` to Q values ``[N, A]``: a Keras
model's compiled call or a TFLite runner's ``predict`` — so the deployed policy is scored exactly
like the trained one. Episode ``i`` runs in its own environment seeded ``seed + i``; one Q
evaluation serves all unfinished episodes at each step.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np


def make_vector_env(env_id: str, num_envs: int, *, autoreset_mode="NextStep", **env_kwargs):
    """``gymnasium.make_vec`` with synchronous envs (CartPole's step is far cheaper than IPC)."""
    if int(num_envs) < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    try:
        return gym.make_vec(env_id, num_envs=int(num_envs), vectorization_mode="sync",
                            vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode(autoreset_mode)},
                            **env_kwargs)
    except gym.error.Error as err:
        raise ValueError(f"cannot make gymnasium environment {env_id!r}: {err}") from None


def evaluate_greedy(q_values, env_id: str, episodes: int = 100, *, seed: int = 0,
                    max_parallel: int = 100, return_observations=False, **env_kwargs):
    """Undiscounted returns of ``episodes`` greedy episodes (argmax Q, no exploration); with
    ``return_observations``, also every observation the policy acted on (``[N, ...]``)."""
    if int(episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    returns, seen = [], []
    for first in range(0, int(episodes), int(max_parallel)):
        n = min(int(max_parallel), int(episodes) - first)
        envs = make_vector_env(env_id, n, **env_kwargs)
        observations, _ = envs.reset(seed=seed + first)
        totals, running = np.zeros(n), np.ones(n, dtype=bool)
        while running.any():
            if return_observations:
                seen.append(observations[running].astype(np.float32))
            actions = np.argmax(np.asarray(q_values(observations.astype(np.float32))), axis=-1)
            observations, rewards, terminated, truncated, _ = envs.step(actions)
            totals += np.where(running, rewards, 0.0)
            running &= ~(terminated | truncated)  # later steps of a finished env are ignored
        envs.close()
        returns.extend(totals.tolist())
    if return_observations:
        return np.asarray(returns), np.concatenate(seen)
    return np.asarray(returns)
