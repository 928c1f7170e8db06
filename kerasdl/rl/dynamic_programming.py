"""Planning with a known model: iterative policy evaluation, policy iteration and value iteration
(Sutton & Barto, ch. 4) on a :class:`~kerasdl.rl.mdp.TabularMDP`.

This is *model-based*: it needs P and R. Q-learning and Sarsa (:mod:`kerasdl.rl.td_control`) are
the model-free counterparts that learn from sampled transitions alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kerasdl.rl.episodes import check_rate
from kerasdl.rl.mdp import TabularMDP


@dataclass
class PlanningResult:
    policy: np.ndarray  # [S] greedy action per state
    values: np.ndarray  # [S] state values V
    q: np.ndarray  # [S, A] action values Q
    iterations: int  # sweeps (value iteration) or improvement steps (policy iteration)


def action_values(mdp: TabularMDP, values, gamma: float) -> np.ndarray:
    """One Bellman backup: ``Q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] V[s']``."""
    return mdp.rewards + gamma * mdp.transitions @ np.asarray(values, dtype=np.float64)


def greedy(q, current=None) -> np.ndarray:
    """argmax_a Q[s, a]; where ``current``'s action is among the maximisers it is kept (so policy
    iteration stops instead of cycling between equally good policies)."""
    q = np.asarray(q)
    best = q.argmax(-1)
    if current is not None:
        ties = np.isclose(q[np.arange(len(q)), current], q.max(-1), rtol=0, atol=1e-12)
        best = np.where(ties, current, best)
    return best


def policy_evaluation(mdp: TabularMDP, policy, gamma: float, *, tol=1e-10,
                      max_sweeps=100_000, values=None) -> np.ndarray:
    """V_pi by repeated synchronous sweeps ``V <- R_pi + gamma P_pi V`` until the largest change
    is below ``tol``."""
    check_rate("gamma", gamma)
    p_pi, r_pi = mdp.under_policy(policy)
    v = np.zeros(mdp.num_states) if values is None else np.array(values, dtype=np.float64)
    for _ in range(max_sweeps):
        new = r_pi + gamma * p_pi @ v
        if np.max(np.abs(new - v)) < tol:
            return new
        v = new
    raise RuntimeError(f"policy evaluation did not converge in {max_sweeps} sweeps (an improper "
                       "policy with gamma = 1 never terminates: use gamma < 1)")


def policy_iteration(mdp: TabularMDP, gamma: float, *, tol=1e-10, max_iterations=1_000) -> PlanningResult:
    """Alternate evaluation and greedy improvement until the policy is stable (Howard, 1960)."""
    policy = np.zeros(mdp.num_states, dtype=np.int64)
    values = None
    for iteration in range(1, max_iterations + 1):
        values = policy_evaluation(mdp, policy, gamma, tol=tol, values=values)
        q = action_values(mdp, values, gamma)
        improved = greedy(q, policy)
        if np.array_equal(improved, policy):
            return PlanningResult(policy, values, q, iteration)
        policy = improved
    raise RuntimeError(f"policy iteration did not stabilise in {max_iterations} iterations")


def value_iteration(mdp: TabularMDP, gamma: float, *, tol=1e-10, max_sweeps=100_000) -> PlanningResult:
    """Sweeps of the Bellman optimality backup ``V <- max_a (R + gamma P V)`` until the largest
    change is below ``tol``; the policy is greedy in the final values."""
    check_rate("gamma", gamma)
    v = np.zeros(mdp.num_states)
    for sweep in range(1, max_sweeps + 1):
        q = action_values(mdp, v, gamma)
        new = q.max(-1)
        if np.max(np.abs(new - v)) < tol:
            q = action_values(mdp, new, gamma)
            return PlanningResult(greedy(q), new, q, sweep)
        v = new
    raise RuntimeError(f"value iteration did not converge in {max_sweeps} sweeps")
