"""Model-free TD control on tables: Q-learning (off-policy) and Sarsa (on-policy).

Q-learning (Watkins, 1989) updates towards the best next action whatever the agent does next,
    Q(s,a) <- Q(s,a) + alpha (r + gamma max_a' Q(s',a') - Q(s,a)),
so it learns the greedy policy's values while exploring ε-greedily. Sarsa updates towards the
action it actually takes next, Q(s,a) <- Q(s,a) + alpha (r + gamma Q(s',a') - Q(s,a)), so it learns
the values of its own ε-greedy policy: on CliffWalking (Sutton & Barto, Example 6.6) Q-learning
finds the shortest path along the cliff, Sarsa a safer one that exploration rarely pushes over.

Both are *model-free*: they need sampled transitions only, never the transition function P
(the curriculum's note 000 says Q-learning "cannot be used when the transition function is
unknown" — that is backwards: not needing P is the point of it). And both are *value-based*: they
learn Q and act greedily on it; the table is not a policy parameterisation (note 000 calls it
"policy-based", 策略型).
"""
from __future__ import annotations

import numpy as np

from kerasdl.rl.episodes import TabularRun, check_rate, td_episodes


def q_learning_update(q, state, action, reward, next_state, terminated, alpha, gamma) -> float:
    """Apply one Q-learning update to ``q`` in place; returns the TD error."""
    target = reward + (0.0 if terminated else gamma * np.max(q[next_state]))
    error = target - q[state, action]
    q[state, action] += alpha * error
    return float(error)


def sarsa_update(q, state, action, reward, next_state, next_action, terminated, alpha, gamma) -> float:
    """Apply one Sarsa update to ``q`` in place; returns the TD error."""
    target = reward + (0.0 if terminated else gamma * q[next_state, next_action])
    error = target - q[state, action]
    q[state, action] += alpha * error
    return float(error)


def q_learning(env, episodes, *, alpha=0.5, gamma=1.0, epsilon=0.1, seed=None,
               max_steps=10_000) -> TabularRun:
    """Tabular Q-learning with ε-greedy exploration for ``episodes`` episodes."""
    alpha, gamma = check_rate("alpha", alpha), check_rate("gamma", gamma)

    def update(q, state, action, reward, next_state, next_action, terminated):
        q_learning_update(q, state, action, reward, next_state, terminated, alpha, gamma)

    return td_episodes(env, episodes, update, epsilon=epsilon, seed=seed, max_steps=max_steps)


def sarsa(env, episodes, *, alpha=0.5, gamma=1.0, epsilon=0.1, seed=None,
          max_steps=10_000) -> TabularRun:
    """Tabular Sarsa with ε-greedy exploration for ``episodes`` episodes."""
    alpha, gamma = check_rate("alpha", alpha), check_rate("gamma", gamma)

    def update(q, state, action, reward, next_state, next_action, terminated):
        sarsa_update(q, state, action, reward, next_state, next_action, terminated, alpha, gamma)

    return td_episodes(env, episodes, update, epsilon=epsilon, seed=seed, max_steps=max_steps)
