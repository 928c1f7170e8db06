"""Reinforcement learning: tabular planning (value/policy iteration) and learning (Monte Carlo,
TD(0), Q-learning, Sarsa, Sarsa(λ)) in NumPy, and DQN on the kerasdl Trainer.

Names load lazily, so the tabular tools import neither TensorFlow nor Keras (DQN's do).
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    "TabularMDP": "kerasdl.rl.mdp",
    **dict.fromkeys(("PlanningResult", "action_values", "greedy", "policy_evaluation",
                     "policy_iteration", "value_iteration"), "kerasdl.rl.dynamic_programming"),
    **dict.fromkeys(("epsilon_greedy", "epsilon_greedy_batch", "LinearSchedule"),
                    "kerasdl.rl.exploration"),
    **dict.fromkeys(("TabularRun", "greedy_rollout", "td_episodes"), "kerasdl.rl.episodes"),
    **dict.fromkeys(("q_learning", "q_learning_update", "sarsa", "sarsa_update"),
                    "kerasdl.rl.td_control"),
    **dict.fromkeys(("sarsa_lambda", "sarsa_lambda_update"), "kerasdl.rl.eligibility_traces"),
    **dict.fromkeys(("first_visit_returns", "mc_control"), "kerasdl.rl.monte_carlo"),
    "td0_prediction": "kerasdl.rl.td_prediction",
    **dict.fromkeys(("RandomWalkEnv", "TRUE_VALUES"), "kerasdl.rl.random_walk"),
    **dict.fromkeys(("ReplayBuffer", "sampling_draws"), "kerasdl.rl.replay"),
    **dict.fromkeys(("evaluate_greedy", "make_vector_env"), "kerasdl.rl.evaluation"),
    "DQNAgent": "kerasdl.rl.dqn",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
