"""The 5-state random walk (Sutton & Barto, Example 6.2) as a gymnasium environment.

States 0 and 6 are terminal, 1..5 are A..E; every episode starts in C (3). Each step moves left
or right; reaching 6 pays +1, everything else 0. Under the uniform random policy with γ = 1 the
true values of A..E are 1/6, 2/6, 3/6, 4/6, 5/6. ``P`` is the toy-text model, so
:meth:`kerasdl.rl.mdp.TabularMDP.from_gymnasium` reads it like FrozenLake's.
"""
from __future__ import annotations

import gymnasium as gym

LEFT, RIGHT = 0, 1
TRUE_VALUES = (1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6)


class RandomWalkEnv(gym.Env):
    """Actions 0 (left) and 1 (right); the random walk is the uniform random policy."""

    metadata = {"render_modes": []}

    def __init__(self, num_states: int = 5):
        if num_states < 1:
            raise ValueError(f"num_states must be >= 1, got {num_states}")
        self.num_states = int(num_states)
        self.observation_space = gym.spaces.Discrete(self.num_states + 2)
        self.action_space = gym.spaces.Discrete(2)
        last = self.num_states + 1
        self.P = {s: {a: [(1.0, s2, float(s2 == last), s2 in (0, last))]
                      for a, s2 in ((LEFT, s - 1), (RIGHT, s + 1))}
                  for s in range(1, last)}
        self.P.update({s: {a: [(1.0, s, 0.0, True)] for a in (LEFT, RIGHT)} for s in (0, last)})
        self.state = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = (self.num_states + 1) // 2
        return self.state, {}

    def step(self, action):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        (_, self.state, reward, terminated), = self.P[self.state][int(action)]
        return self.state, reward, terminated, False, {}
