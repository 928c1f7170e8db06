"""DQN's update step on the kerasdl Trainer (Mnih et al., 2015; double DQN: van Hasselt et al., 2016).

``DQNTrainer`` subclasses :class:`~kerasdl.train.Trainer` and overrides only ``train_step``; it
reuses the Trainer's compiled loop (XLA by policy, ``steps_per_execution`` gradient steps per graph
call), optimizer handling (clip with ``global_clipnorm``), checkpoints, NaN rollback, history and
``fit(callbacks=...)``. The hooks carry what DQN adds: ``extra_state`` holds the target network and
the replay buffer (so checkpoints, rollbacks and the XLA trial save and restore them), and
``data_inputs`` declares that the data are the replay sampler's random draws
(:func:`kerasdl.rl.replay.sampling_draws`): the step gathers its transitions from the buffer's
variables, so a mini-batch always sees the latest transitions. One ``fit`` epoch is one block of
gradient steps; :class:`kerasdl.rl.dqn.DQNAgent` collects experience between blocks in a callback.

Step: TD target ``y = r + γ (1 - terminated) Q_target(s', a*)`` with ``a* = argmax_a Q_target(s', a)``
(DQN) or ``argmax_a Q_online(s', a)`` (double DQN: the online net picks, the target net rates, which
removes max's overestimation bias); loss ``Huber(y, Q_online(s, a))``; then the target network
moves towards the online one: a hard copy every ``target_update_period`` steps or Polyak averaging
``θ' <- τ θ + (1 - τ) θ'`` every step.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasdl.train.trainer import Trainer


def td_targets(rewards, terminated, next_q_target, gamma, next_q_online=None):
    """``r + γ (1 - terminated) Q_target(s', a*)``; ``a*`` maximises ``next_q_online`` when given
    (double DQN), else ``next_q_target`` (DQN's max). Q arrays are ``[B, A]``."""
    chooser = next_q_target if next_q_online is None else next_q_online
    best = tf.argmax(chooser, axis=-1, output_type=tf.int32)
    bootstrap = tf.gather(tf.cast(next_q_target, tf.float32), best, axis=1, batch_dims=1)
    return (tf.cast(rewards, tf.float32)
            + gamma * (1.0 - tf.cast(terminated, tf.float32)) * bootstrap)


def target_copy(model):
    """A frozen copy of ``model`` (same config and weights) to serve as its target network."""
    config = {**model.get_config(), "name": f"{model.name}_target"}
    target = type(model).from_config(config)
    target.set_weights(model.get_weights())
    target.trainable = False
    return target


class DQNTrainer(Trainer):
    """Train ``q_network`` (observations -> Q [B, A]) on transitions drawn from ``replay``.

    Args:
        q_network: a Keras model (or a zero-argument builder) mapping observations to Q values.
        replay: a :class:`kerasdl.rl.replay.ReplayBuffer` the agent fills.
        optimizer: a Keras optimizer (e.g. ``Adam(1e-3, global_clipnorm=10)``) or its name.
        gamma: discount factor.
        double: double DQN targets.
        target_update_period: hard-copy the online weights every this many gradient steps, or
        tau: Polyak rate per step (pass exactly one of the two).
        loss: Keras loss between targets and Q(s, a) (Huber by default, as in the paper's clipped
            TD error).
        blowup_factor: off by default (TD losses grow while Q values grow towards the returns;
            non-finite losses and weights still roll back).
        Other keyword arguments go to :class:`kerasdl.train.Trainer` (strategy: the default
        one only — the buffer lives on one device).
    """

    def __init__(self, q_network, replay, optimizer="adam", *, gamma=0.99, double=True,
                 target_update_period=None, tau=None, loss=None, blowup_factor=None, **kwargs):
        if (target_update_period is None) == (tau is None):
            raise ValueError("pass exactly one of target_update_period (hard updates) and tau "
                             "(Polyak updates)")
        if target_update_period is not None and int(target_update_period) < 1:
            raise ValueError(f"target_update_period must be >= 1, got {target_update_period}")
        if tau is not None and not 0 < tau <= 1:
            raise ValueError(f"tau must lie in (0, 1], got {tau}")
        if not 0 <= gamma <= 1:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
        super().__init__(q_network, keras.losses.Huber() if loss is None else loss, optimizer,
                         blowup_factor=blowup_factor, **kwargs)
        if self.strategy.num_replicas_in_sync != 1:
            raise ValueError("DQNTrainer runs under a single-replica strategy (the replay buffer "
                             "lives on one device)")
        observation_shape = tuple(self.model.inputs[0].shape[1:])
        if tuple(replay.observation_shape) != observation_shape:
            raise ValueError(f"the replay buffer stores observations of shape "
                             f"{replay.observation_shape}, the Q-network takes {observation_shape}")
        self.replay, self.gamma, self.double = replay, float(gamma), bool(double)
        self.target_update_period = None if tau is not None else int(target_update_period)
        self.tau = None if tau is None else float(tau)
        with self.strategy.scope():
            self.target_network = target_copy(self.model)

    @property
    def extra_state(self) -> dict:
        return {"target_network": self.target_network, "replay": self.replay}

    @property
    def data_inputs(self) -> list:
        return [tf.TensorSpec((None,), tf.int64, name="replay_draws")]

    def targets(self, rewards, next_observations, terminated):
        next_q_target = self.target_network(next_observations, training=False)
        next_q_online = self.model(next_observations, training=False) if self.double else None
        return tf.stop_gradient(td_targets(rewards, terminated, next_q_target, self.gamma,
                                           next_q_online))

    def update_target_network(self):
        """Move the target weights towards the online ones (after the optimizer step)."""
        if self.tau is not None:
            mix = tf.constant(self.tau, tf.float32)
        else:
            mix = tf.cast(tf.equal(self.optimizer.iterations % self.target_update_period, 0),
                          tf.float32)
        for target, online in zip(self.target_network.weights, self.model.weights):
            target.assign(tf.cast(mix, target.dtype) * online + (1 - tf.cast(mix, target.dtype)) * target)

    def train_step(self, batch):
        observations, actions, rewards, next_observations, terminated = self.replay.sample(batch[0])
        targets = self.targets(rewards, next_observations, terminated)
        with tf.GradientTape() as tape:
            q = self.model(observations, training=True)
            q_taken = tf.gather(tf.cast(q, tf.float32), actions, axis=1, batch_dims=1)
            per_example = self.compute_loss(targets[:, None], q_taken[:, None])
            loss = tf.reduce_mean(per_example)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        self.update_target_network()
        self._update_metrics(self.train_metrics, per_example, targets, q_taken)
        return loss

    def eval_step(self, batch):
        raise NotImplementedError("evaluate a Q-network by its returns: kerasdl.rl.evaluation")
