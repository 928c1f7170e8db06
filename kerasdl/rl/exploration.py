"""ε-greedy action selection and the linear ε schedule of DQN (Mnih et al., 2015)."""
from __future__ import annotations

import numpy as np


def epsilon_greedy(q_row, epsilon: float, rng: np.random.Generator) -> int:
    """A uniformly random action with probability ``epsilon``, else a greedy one (ties broken at
    random, so an all-zero initial table does not favour action 0)."""
    q_row = np.asarray(q_row)
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    best = np.flatnonzero(q_row == q_row.max())
    return int(best[0] if len(best) == 1 else rng.choice(best))


def epsilon_greedy_batch(greedy_actions, num_actions: int, epsilon: float,
                         rng: np.random.Generator) -> np.ndarray:
    """Per row: a random action with probability ``epsilon``, else the given greedy one."""
    greedy_actions = np.asarray(greedy_actions)
    explore = rng.random(len(greedy_actions)) < epsilon
    return np.where(explore, rng.integers(num_actions, size=len(greedy_actions)), greedy_actions)


class LinearSchedule:
    """``start`` at step 0, linearly to ``end`` at ``steps``, then constant."""

    def __init__(self, start: float = 1.0, end: float = 0.05, steps: int = 10_000):
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.start, self.end, self.steps = float(start), float(end), int(steps)

    def __call__(self, step) -> float:
        fraction = min(max(float(step), 0.0) / self.steps, 1.0)
        return self.start + fraction * (self.end - self.start)
