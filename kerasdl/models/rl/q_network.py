"""The Q-network of DQN (Mnih et al., 2015): observations -> one Q value per action.

An MLP for vector observations (CartPole's 4 numbers). ``dueling=True`` splits the last layer into
a state value V(s) and advantages A(s, a), recombined as V + A - mean A (Wang et al., 2016), which
learns V from every action's samples. Trained by :class:`kerasdl.train.dqn.DQNTrainer`; the greedy
policy is argmax over its output, so the exported TFLite model is the deployable policy.
"""
from __future__ import annotations

import keras

from kerasdl.layers.dueling import DuelingAggregation
from kerasdl.models.base import FunctionalModel, register_model


@register_model("q_network", task="q_values", deployable=True, tags=("rl", "dqn"),
                small={"observation_dim": 4, "num_actions": 3, "hidden_units": (16,)})
class QNetwork(FunctionalModel):
    """Observation ``[B, observation_dim]`` -> ReLU ``hidden_units`` -> Q ``[B, num_actions]``."""

    @staticmethod
    def build_graph(observation_dim=4, num_actions=2, hidden_units=(256, 256), dueling=False,
                    activation="relu"):
        if int(observation_dim) < 1 or int(num_actions) < 1:
            raise ValueError(f"observation_dim and num_actions must be >= 1, got "
                             f"{observation_dim}, {num_actions}")
        observation = keras.Input((int(observation_dim),), name="observation")
        x = observation
        for i, units in enumerate(hidden_units):
            x = keras.layers.Dense(int(units), activation=activation, name=f"dense_{i + 1}")(x)
        if not dueling:
            return observation, keras.layers.Dense(int(num_actions), name="q_values")(x)
        value = keras.layers.Dense(1, name="value")(x)
        advantage = keras.layers.Dense(int(num_actions), name="advantage")(x)
        return observation, DuelingAggregation(name="q_values")([value, advantage])
