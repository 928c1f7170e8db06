"""TD(0) prediction: estimate V_pi from experience, V(s) <- V(s) + α (r + γ V(s') - V(s)).

It updates after every step from the current estimate of the next state (bootstrapping), where
Monte Carlo waits for the episode's return (Sutton & Barto, 6.1).
"""
from __future__ import annotations

import numpy as np

from kerasdl.rl.episodes import check_rate, discrete_sizes


def td0_prediction(env, policy, episodes, *, alpha=0.05, gamma=1.0, initial_value=0.0,
                   seed=None, max_steps=10_000) -> np.ndarray:
    """V_pi [S] after ``episodes`` episodes of ``policy`` (``[S, A]`` action probabilities).
    Terminal states keep their initial value 0; ``initial_value`` fills the others."""
    num_states, num_actions = discrete_sizes(env)
    alpha, gamma = check_rate("alpha", alpha), check_rate("gamma", gamma)
    policy = np.asarray(policy, dtype=np.float64)
    if policy.shape != (num_states, num_actions) or not np.allclose(policy.sum(-1), 1):
        raise ValueError(f"policy must be [S, A] = [{num_states}, {num_actions}] action "
                         f"probabilities, got shape {policy.shape}")
    rng = np.random.default_rng(seed)
    values = np.full(num_states, float(initial_value))
    seen_terminal = np.zeros(num_states, dtype=bool)
    for episode in range(int(episodes)):
        state, _ = env.reset(seed=seed if episode == 0 else None)
        for _ in range(int(max_steps)):
            action = rng.choice(num_actions, p=policy[state])
            next_state, reward, terminated, truncated, _ = env.step(action)
            seen_terminal[next_state] |= bool(terminated)
            target = reward + (0.0 if terminated else gamma * values[next_state])
            values[state] += alpha * (target - values[state])
            state = next_state
            if terminated or truncated:
                break
    values[seen_terminal] = 0.0  # never updated; a terminal state is worth nothing
    return values
