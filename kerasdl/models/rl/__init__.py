"""Reinforcement-learning models: the Q-network of DQN (plain or dueling)."""
from kerasdl.models.rl import q_network  # noqa: F401
