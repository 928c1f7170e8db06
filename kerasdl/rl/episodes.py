"""Shared plumbing of the tabular learners: space checks, the run record, greedy roll-outs."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kerasdl.rl.exploration import epsilon_greedy


def discrete_sizes(env) -> tuple[int, int]:
    """(number of states, number of actions) of an environment with Discrete spaces."""
    sizes = []
    for label, space in (("observation", env.observation_space), ("action", env.action_space)):
        n = getattr(space, "n", None)
        if n is None or getattr(space, "start", 0) != 0:
            raise ValueError(f"tabular methods need a Discrete {label} space starting at 0, "
                             f"got {space}")
        sizes.append(int(n))
    return sizes[0], sizes[1]


def check_rate(name: str, value: float, low: float = 0.0, high: float = 1.0) -> float:
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
    return float(value)


@dataclass
class TabularRun:
    """What a tabular control method learnt and how its episodes went."""

    q: np.ndarray  # [S, A] action values
    returns: list = field(default_factory=list)  # undiscounted return of each training episode
    lengths: list = field(default_factory=list)  # steps of each training episode

    @property
    def policy(self) -> np.ndarray:
        return self.q.argmax(-1)


def greedy_rollout(env, q, *, seed=None, max_steps=1_000) -> tuple[list, float]:
    """Follow argmax Q from a reset: the visited states (start included) and the return.
    Stops at termination, truncation or ``max_steps`` (a greedy policy may loop forever)."""
    state, _ = env.reset(seed=seed)
    states, total = [int(state)], 0.0
    for _ in range(max_steps):
        state, reward, terminated, truncated, _ = env.step(int(np.argmax(q[state])))
        states.append(int(state))
        total += float(reward)
        if terminated or truncated:
            break
    return states, total


def td_episodes(env, episodes, update, *, epsilon, seed=None, max_steps=10_000,
                on_episode_start=None) -> TabularRun:
    """Run ``episodes`` ε-greedy episodes, calling after every step
    ``update(q, s, a, r, s', a', terminated)`` with ``a'`` the action the agent takes next (Sarsa
    learns from it; Q-learning ignores it). ``on_episode_start()`` resets per-episode state
    (eligibility traces). Truncated episodes (a time limit) still bootstrap from ``s'``."""
    num_states, num_actions = discrete_sizes(env)
    epsilon = check_rate("epsilon", epsilon)
    if int(episodes) < 1 or int(max_steps) < 1:
        raise ValueError(f"episodes and max_steps must be >= 1, got {episodes}, {max_steps}")
    rng = np.random.default_rng(seed)
    run = TabularRun(np.zeros((num_states, num_actions)))
    q = run.q
    for episode in range(int(episodes)):
        if on_episode_start is not None:
            on_episode_start()
        state, _ = env.reset(seed=seed if episode == 0 else None)
        action = epsilon_greedy(q[state], epsilon, rng)
        total, steps = 0.0, 0
        for steps in range(1, int(max_steps) + 1):
            next_state, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            next_action = epsilon_greedy(q[next_state], epsilon, rng)
            update(q, state, action, float(reward), next_state, next_action, bool(terminated))
            if terminated or truncated:
                break
            state, action = next_state, next_action
        run.returns.append(total)
        run.lengths.append(steps)
    return run
