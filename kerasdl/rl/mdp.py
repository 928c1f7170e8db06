"""A finite MDP (S, A, P, R) as arrays, and the matrices a policy induces on it.

``transitions[s, a, s']`` is the probability of moving to ``s'`` *and continuing*; the missing mass
``1 - sum_s' transitions[s, a, s']`` is the probability that the episode terminates, after which
nothing more is earned (a terminal state's value is 0). ``rewards[s, a]`` is the expected immediate
reward. With this sub-stochastic form the Bellman equations need no terminal-state bookkeeping:
``Q = R + gamma * P V``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TabularMDP:
    transitions: np.ndarray  # [S, A, S'] probability of reaching s' without terminating
    rewards: np.ndarray  # [S, A] expected immediate reward

    def __post_init__(self):
        p = np.asarray(self.transitions, dtype=np.float64)
        r = np.asarray(self.rewards, dtype=np.float64)
        if p.ndim != 3 or p.shape[0] != p.shape[2]:
            raise ValueError(f"transitions must have shape [S, A, S], got {p.shape}")
        if r.shape != p.shape[:2]:
            raise ValueError(f"rewards must have shape [S, A] = {p.shape[:2]}, got {r.shape}")
        if p.size == 0:
            raise ValueError("the MDP has no states or no actions")
        if (p < 0).any() or (p.sum(-1) > 1 + 1e-9).any():
            raise ValueError("transitions must be probabilities summing to at most 1 per (s, a)")
        object.__setattr__(self, "transitions", p)
        object.__setattr__(self, "rewards", r)

    @property
    def num_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def num_actions(self) -> int:
        return self.transitions.shape[1]

    @classmethod
    def from_gymnasium(cls, env) -> "TabularMDP":
        """The MDP of a toy-text environment's model ``env.unwrapped.P``
        (``P[s][a] = [(prob, next_state, reward, terminated), ...]``: FrozenLake, CliffWalking,
        Taxi, :class:`kerasdl.rl.random_walk.RandomWalkEnv`)."""
        model = getattr(env.unwrapped, "P", None)
        if not isinstance(model, dict):
            raise ValueError(f"{env.unwrapped.__class__.__name__} exposes no transition model "
                             "P[s][a] = [(prob, next_state, reward, terminated), ...]")
        num_states, num_actions = env.observation_space.n, env.action_space.n
        p = np.zeros((num_states, num_actions, num_states))
        r = np.zeros((num_states, num_actions))
        for s, by_action in model.items():
            for a, outcomes in by_action.items():
                for prob, s_next, reward, terminated in outcomes:
                    r[s, a] += prob * reward
                    if not terminated:
                        p[s, a, s_next] += prob
        return cls(p, r)

    def policy_matrix(self, policy) -> np.ndarray:
        """``policy`` as action probabilities ``[S, A]``; a deterministic policy is ``[S]`` ints."""
        policy = np.asarray(policy)
        if policy.shape == (self.num_states,) and np.issubdtype(policy.dtype, np.integer):
            if policy.min() < 0 or policy.max() >= self.num_actions:
                raise ValueError(f"actions must lie in [0, {self.num_actions}), got {policy}")
            return np.eye(self.num_actions)[policy]
        if policy.shape != (self.num_states, self.num_actions):
            raise ValueError(f"a policy is [S] = [{self.num_states}] action ids or [S, A] = "
                             f"{[self.num_states, self.num_actions]} probabilities, got {policy.shape}")
        if (policy < 0).any() or not np.allclose(policy.sum(-1), 1):
            raise ValueError("policy rows must be probability distributions over actions")
        return policy.astype(np.float64)

    def under_policy(self, policy) -> tuple[np.ndarray, np.ndarray]:
        """The Markov reward process a policy induces: ``P_pi [S, S]`` and ``R_pi [S]``."""
        pi = self.policy_matrix(policy)
        return np.einsum("sa,sat->st", pi, self.transitions), (pi * self.rewards).sum(-1)
