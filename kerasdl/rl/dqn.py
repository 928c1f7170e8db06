"""A DQN agent: ε-greedy experience from vectorised gymnasium environments, alternating in blocks
with gradient steps of :class:`kerasdl.train.dqn.DQNTrainer` (Mnih et al., 2015).

``learn`` first fills the buffer with ``learning_starts`` random transitions, then runs
``Trainer.fit`` for one epoch per block: ``gradient_steps_per_block`` updates (one graph call), then,
in the fit callback, ``steps_per_block`` new environment steps (all ``num_envs`` environments step
together, so one batched Q evaluation picks ``num_envs`` actions) and, every ``eval_every`` blocks,
a greedy evaluation whose best weights are kept (``best_weights``, ``restore_best``).
Vector environments auto-reset in the same step; the true last observation of a finished episode
(``info["final_obs"]``) is what is stored, and only termination — not the time limit — stops the
bootstrap.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from kerasdl.rl.evaluation import evaluate_greedy, make_vector_env
from kerasdl.rl.exploration import LinearSchedule, epsilon_greedy_batch
from kerasdl.rl.replay import ReplayBuffer, sampling_draws
from kerasdl.train.dqn import DQNTrainer

EVAL_SEED = 1_000_000  # evaluation episodes use seeds far from the training environments'


class DQNAgent:
    """DQN, double DQN (``double=True``) and dueling networks (``dueling=True``) on ``env_id``.

    Args:
        q_network: a Keras model observations -> Q; by default a ``q_network`` MLP with
            ``hidden_units`` (and ``dueling``).
        epsilon: a function env step -> ε (default: 1 -> 0.05 linearly over 10,000 steps).
        target_update_period / tau: hard target copies every that many gradient steps, or Polyak
            averaging (default: hard copies every 500 steps).
        clipnorm: global gradient-norm clipping of the Adam optimizer.
        seed: seeds the environments, the exploration RNG, the replay sampler and (globally,
            through ``keras.utils.set_random_seed``) the network's initialisation.
        Other arguments: see the module docstring; checkpoint_dir/log_dir/jit_compile go to the
        Trainer.
    """

    def __init__(self, env_id="CartPole-v1", *, q_network=None, hidden_units=(256, 256),
                 dueling=False, double=True, num_envs=8, buffer_size=50_000, batch_size=64,
                 gamma=0.99, learning_rate=1e-3, clipnorm=10.0, target_update_period=None,
                 tau=None, epsilon=None, learning_starts=1_000, steps_per_block=256,
                 gradient_steps_per_block=128, eval_every=10, eval_episodes=20, seed=0,
                 jit_compile="auto", checkpoint_dir=None, log_dir=None, verbose=1, env_kwargs=None):
        for name, value in (("steps_per_block", steps_per_block), ("learning_starts", learning_starts),
                            ("gradient_steps_per_block", gradient_steps_per_block),
                            ("eval_every", eval_every), ("eval_episodes", eval_episodes)):
            if int(value) < (0 if name == "learning_starts" else 1):
                raise ValueError(f"{name} must be positive, got {value}")
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        self.envs = make_vector_env(env_id, num_envs, autoreset_mode="SameStep", **self.env_kwargs)
        observation_space = self.envs.single_observation_space
        action_space = self.envs.single_action_space
        if not hasattr(action_space, "n") or len(observation_space.shape or ()) != 1:
            raise ValueError(f"DQN here needs vector observations and discrete actions; {env_id} "
                             f"has {observation_space} and {action_space}")
        self.num_envs, self.num_actions = int(num_envs), int(action_space.n)
        self.steps_per_block, self.learning_starts = int(steps_per_block), int(learning_starts)
        self.gradient_steps_per_block = int(gradient_steps_per_block)
        self.eval_every, self.eval_episodes = int(eval_every), int(eval_episodes)
        self.epsilon = epsilon or LinearSchedule(1.0, 0.05, 10_000)
        self.seed, self.verbose = int(seed), verbose
        self.rng = np.random.default_rng(seed)
        keras.utils.set_random_seed(self.seed)
        if q_network is None:
            from kerasdl.registry import create_model

            q_network = create_model("q_network", observation_dim=observation_space.shape[0],
                                     num_actions=self.num_actions, hidden_units=tuple(hidden_units),
                                     dueling=dueling)
        self.replay = ReplayBuffer(buffer_size, observation_space.shape)
        if target_update_period is None and tau is None:
            target_update_period = 500
        self.trainer = DQNTrainer(
            q_network, self.replay, keras.optimizers.Adam(learning_rate, global_clipnorm=clipnorm),
            gamma=gamma, double=double, target_update_period=target_update_period, tau=tau,
            jit_compile=jit_compile, steps_per_execution=self.gradient_steps_per_block,
            checkpoint_dir=checkpoint_dir, log_dir=log_dir, verbose=0)
        self.batch_size = int(batch_size)
        self.model = self.trainer.model
        self._q = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)
        self._observations, _ = self.envs.reset(seed=self.seed)
        self._running_returns = np.zeros(self.num_envs)
        self.episodes: list[tuple[int, float]] = []  # (env steps when it ended, return)
        self.evaluations: list[tuple[int, float]] = []  # (env steps, mean greedy return)
        self.best_return, self.best_weights, self.best_step = -math.inf, None, None

    # ---------------------------------------------------------------------------- acting
    @property
    def env_steps(self) -> int:
        """Environment steps taken so far (every transition is stored, so the buffer counts them)."""
        return int(self.replay.added.numpy())

    def q_values(self, observations) -> np.ndarray:
        return self._q(tf.convert_to_tensor(observations, tf.float32)).numpy()

    def collect(self, steps: int, epsilon=None) -> list[float]:
        """Step all environments ε-greedily for at least ``steps`` transitions and store them;
        returns the returns of the episodes that ended."""
        start, block, finished = self.env_steps, [], []
        for i in range(math.ceil(steps / self.num_envs)):
            eps = self.epsilon(start + i * self.num_envs) if epsilon is None else epsilon
            greedy = (np.zeros(self.num_envs, np.int64) if eps >= 1 else
                      self.q_values(self._observations).argmax(-1))
            actions = epsilon_greedy_batch(greedy, self.num_actions, eps, self.rng)
            observations, rewards, terminated, truncated, info = self.envs.step(actions)
            done = terminated | truncated
            next_observations = observations.copy()
            for env in np.flatnonzero(done):  # auto-reset: keep the episode's real last state
                next_observations[env] = info["final_obs"][env]
            block.append((self._observations, actions, rewards, next_observations, terminated))
            self._running_returns += rewards
            for env in np.flatnonzero(done):
                finished.append(float(self._running_returns[env]))
                self.episodes.append((start + (i + 1) * self.num_envs, finished[-1]))
                self._running_returns[env] = 0.0
            self._observations = observations
        self.replay.add(*(np.concatenate(column) for column in zip(*block)))
        return finished

    def evaluate(self, episodes=100, seed=EVAL_SEED) -> np.ndarray:
        """Returns of ``episodes`` greedy episodes of the current network."""
        return evaluate_greedy(self.q_values, self.env_id, episodes, seed=seed, **self.env_kwargs)

    # -------------------------------------------------------------------------- learning
    def learn(self, total_steps: int, *, resume=False):
        """Train until ``total_steps`` environment steps; returns the Trainer's History."""
        blocks = math.ceil(max(total_steps - self.learning_starts, 0) / self.steps_per_block)
        if blocks < 1:
            raise ValueError(f"total_steps ({total_steps}) must exceed learning_starts "
                             f"({self.learning_starts})")
        checkpoint = (self.trainer.checkpoint_dir and
                      tf.train.latest_checkpoint(str(self.trainer.checkpoint_dir)))
        if not (resume and checkpoint):
            self.collect(max(self.learning_starts, self.batch_size), epsilon=1.0)
        self._bar = keras.utils.Progbar(blocks, verbose=self.verbose,
                                        stateful_metrics=["return", "eval", "epsilon"])
        self._blocks = blocks
        return self.trainer.fit(sampling_draws(self.batch_size, self.seed), epochs=blocks,
                                steps_per_epoch=self.gradient_steps_per_block,
                                callbacks=[self._after_block], resume=bool(resume and checkpoint))

    def _after_block(self, block, trainer):
        finished = self.collect(self.steps_per_block)
        logs = {"env_steps": self.env_steps, "epsilon": self.epsilon(self.env_steps),
                "train_return": float(np.mean(finished)) if finished else math.nan}
        if block % self.eval_every == 0 or block == self._blocks:
            score = float(np.mean(self.evaluate(self.eval_episodes, seed=EVAL_SEED + block * 1000)))
            self.evaluations.append((self.env_steps, score))
            logs["eval_return"] = score
            if score >= self.best_return:  # ties: the later, longer-trained weights
                self.best_return, self.best_step = score, self.env_steps
                self.best_weights = self.model.get_weights()
        recent = [r for _, r in self.episodes[-20:]]
        self._bar.update(block, [("return", float(np.mean(recent)) if recent else 0.0),
                                 ("eval", self.evaluations[-1][1] if self.evaluations else 0.0),
                                 ("epsilon", logs["epsilon"])])
        return logs

    def restore_best(self) -> None:
        """Load the weights of the best evaluation so far."""
        if self.best_weights is None:
            raise RuntimeError("no evaluation has run yet: call learn() first")
        self.model.set_weights(self.best_weights)

    def close(self) -> None:
        self.envs.close()
        self.trainer.close()
