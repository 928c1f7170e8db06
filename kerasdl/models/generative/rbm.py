"""Bernoulli-Bernoulli restricted Boltzmann machine (RBM) and a deep belief network (DBN) of them.

Energy and distribution of binary visible ``v`` and hidden ``h`` units (Hinton, 2002; Hinton's
"practical guide", 2010):

    E(v, h) = −vᵀW h − bᵀv − cᵀh,         p(v, h) = exp(−E(v, h)) / Z
    p(h_j = 1 | v) = σ(c_j + vᵀW_{:,j}),  p(v_i = 1 | h) = σ(b_i + W_{i,:} h)
    F(v) = −log Σ_h exp(−E(v, h)) = −bᵀv − Σ_j softplus(c_j + vᵀW_{:,j}),   p(v) = exp(−F(v)) / Z

The curriculum writes ``E = +Σ w_ij v_i h_j − ...``: a sign typo — with ``+`` the conditionals
would be ``σ(c − Wᵀv)`` and its own gradient ``<v h>_data − <v h>_model`` would have the wrong sign.
That gradient (of the log-likelihood, for ``W``) is what CD-k estimates; see
:mod:`kerasdl.train.contrastive_divergence`.

``rbm`` is a registered Keras model (task "reconstruction"): its call returns the mean-field
reconstruction *logits* ``b + W p(h|v)`` of ``p(v|h)`` — a tied-weight autoencoder view, which is
what the shared model contract trains; real RBM training is CD-k. Sampling methods (Gibbs steps
with a Keras ``SeedGenerator``, XLA-friendly) live on the :class:`BernoulliRBM` layer and are
forwarded by the model. :func:`train_dbn` stacks RBMs greedily (Hinton et al., 2006).
"""
from __future__ import annotations

import itertools

import keras
import numpy as np
import tensorflow as tf

from kerasdl.models.base import FunctionalModel, register_model


def _bernoulli(probs, seed):
    return tf.cast(keras.random.uniform(tf.shape(probs), seed=seed) < probs, probs.dtype)


@keras.saving.register_keras_serializable(package="kerasdl")
class BernoulliRBM(keras.layers.Layer):
    """Weights ``W [V, H]``, visible bias ``b [V]``, hidden bias ``c [H]`` of a binary RBM.

    ``call(v)`` maps flat visible vectors ``[B, V]`` to mean-field reconstruction logits; the other
    methods take and return flat ``[B, V]`` / ``[B, H]`` tensors.
    """

    def __init__(self, num_hidden: int, kernel_stddev: float = 0.01, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_hidden, self.kernel_stddev, self.seed = int(num_hidden), float(kernel_stddev), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.num_visible = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(self.num_visible, self.num_hidden),
                                      initializer=keras.initializers.RandomNormal(
                                          stddev=self.kernel_stddev, seed=self.seed))
        self.visible_bias = self.add_weight(name="visible_bias", shape=(self.num_visible,),
                                            initializer="zeros")
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(self.num_hidden,),
                                           initializer="zeros")

    # ------------------------------------------------------------------- conditionals
    def hidden_logits(self, v):
        return tf.matmul(v, self.kernel) + self.hidden_bias

    def hidden_probs(self, v):
        """``p(h = 1 | v)``."""
        return tf.sigmoid(self.hidden_logits(v))

    def visible_logits(self, h):
        return tf.matmul(h, self.kernel, transpose_b=True) + self.visible_bias

    def visible_probs(self, h):
        """``p(v = 1 | h)``."""
        return tf.sigmoid(self.visible_logits(h))

    def sample_h(self, v):
        """``(p(h|v), h ~ p(h|v))``."""
        p = self.hidden_probs(v)
        return p, _bernoulli(p, self.seed_generator)

    def sample_v(self, h):
        """``(p(v|h), v ~ p(v|h))``."""
        p = self.visible_probs(h)
        return p, _bernoulli(p, self.seed_generator)

    def gibbs_step(self, v):
        """One block-Gibbs sweep v -> h -> v': ``(v' sample, p(v'|h))``."""
        _, h = self.sample_h(v)
        p, v_new = self.sample_v(h)
        return v_new, p

    def gibbs(self, v, steps):
        """``steps`` (>= 1, a Python int or a scalar tensor) Gibbs sweeps from ``v``:
        ``(v_k sample, p(v_k|h_{k-1}))``, as a ``tf.while_loop``."""
        v = tf.convert_to_tensor(v, self.kernel.dtype)
        first, p = self.gibbs_step(v)

        def body(i, v, p):
            return (i + 1, *self.gibbs_step(v))

        _, v, p = tf.while_loop(lambda i, v, p: i < steps, body, (tf.constant(1), first, p))
        return v, p

    # --------------------------------------------------------------------------- energies
    def energy(self, v, h):
        """``E(v, h) = −vᵀWh − bᵀv − cᵀh`` per example."""
        return (-tf.reduce_sum(tf.matmul(v, self.kernel) * h, axis=-1)
                - tf.linalg.matvec(v, self.visible_bias) - tf.linalg.matvec(h, self.hidden_bias))

    def free_energy(self, v):
        """``F(v) = −bᵀv − Σ_j softplus(c_j + (vW)_j)`` per example (``h`` summed out)."""
        return (-tf.linalg.matvec(v, self.visible_bias)
                - tf.reduce_sum(tf.nn.softplus(self.hidden_logits(v)), axis=-1))

    def call(self, v):
        return self.visible_logits(self.hidden_probs(v))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_hidden": self.num_hidden,
                "kernel_stddev": self.kernel_stddev, "seed": self.seed}


@register_model("rbm", task="reconstruction", small={"visible_shape": (4, 4, 1), "num_hidden": 32,
                                                   "kernel_stddev": 0.3},
                deployable=True, tags=("generative", "energy_based"))
class RBM(FunctionalModel):
    """Binary RBM over ``visible_shape`` inputs in [0, 1] (flattened); the call returns the
    mean-field reconstruction logits, shaped like the input. ``W ~ N(0, kernel_stddev²)`` (Hinton's
    guide: 0.01; the contract's small build uses a larger value, as 20 steps from near-zero tied
    weights barely move a reconstruction). Train it with
    :class:`kerasdl.train.contrastive_divergence.ContrastiveDivergenceTrainer`."""

    @staticmethod
    def build_graph(visible_shape=(28, 28, 1), num_hidden=256, kernel_stddev=0.01, seed=None):
        inputs = keras.Input(tuple(visible_shape), name="visible")
        flat = keras.layers.Flatten(name="flatten")(inputs)
        logits = BernoulliRBM(num_hidden, kernel_stddev, seed=seed, name="rbm")(flat)
        return inputs, keras.layers.Reshape(tuple(visible_shape), name="logits")(logits)

    @property
    def rbm(self) -> BernoulliRBM:
        return self.get_layer("rbm")

    @property
    def num_visible(self) -> int:
        return self.rbm.num_visible

    def flat(self, v):
        """``[B, *visible_shape]`` or ``[B, V]`` -> float ``[B, V]``."""
        return tf.reshape(tf.cast(v, self.rbm.kernel.dtype), [-1, self.num_visible])

    def free_energy(self, v):
        return self.rbm.free_energy(self.flat(v))

    def sample_h(self, v):
        return self.rbm.sample_h(self.flat(v))

    def sample_v(self, h):
        return self.rbm.sample_v(h)

    def gibbs(self, v, steps):
        return self.rbm.gibbs(self.flat(v), steps)

    def pseudo_log_likelihood(self, v):
        """Stochastic pseudo-log-likelihood per example: ``V · log σ(F(ṽ) − F(v))`` with ``ṽ`` =
        ``v`` with one uniformly chosen bit flipped (the estimator of scikit-learn's BernoulliRBM)."""
        v = self.flat(v)
        index = keras.random.randint((tf.shape(v)[0],), 0, self.num_visible,
                                     seed=self.rbm.seed_generator)
        flip = tf.one_hot(index, self.num_visible, dtype=v.dtype)
        flipped = v + flip - 2.0 * v * flip
        gap = self.rbm.free_energy(flipped) - self.rbm.free_energy(v)
        return float(self.num_visible) * tf.math.log_sigmoid(gap)

    def log_partition(self) -> float:
        """Exact ``log Z`` by enumerating the smaller layer's 2^n states (n <= 20 only)."""
        nv, nh = self.num_visible, self.rbm.num_hidden
        if min(nv, nh) > 20:
            raise ValueError(f"exact log Z needs a layer of <= 20 units, got {nv} x {nh}")
        W, b, c = (np.asarray(w, np.float64) for w in
                   (self.rbm.kernel, self.rbm.visible_bias, self.rbm.hidden_bias))
        if nv <= nh:  # Σ_v exp(−F(v))
            states = np.array(list(itertools.product((0.0, 1.0), repeat=nv)))
            minus_f = states @ b + np.logaddexp(0.0, states @ W + c).sum(1)
        else:  # Σ_h exp(cᵀh) Π_i (1 + exp(b_i + W_i h))
            states = np.array(list(itertools.product((0.0, 1.0), repeat=nh)))
            minus_f = states @ c + np.logaddexp(0.0, states @ W.T + b).sum(1)
        top = minus_f.max()
        return float(top + np.log(np.exp(minus_f - top).sum()))

    def log_likelihood(self, v):
        """Exact ``log p(v) = −F(v) − log Z`` per example (tiny RBMs: see :meth:`log_partition`)."""
        return -np.asarray(self.free_energy(v), np.float64) - self.log_partition()


# ----------------------------------------------------------------------------------- DBN
class DeepBeliefNetwork:
    """A stack of RBMs (lowest first): the top two layers form an undirected RBM, the layers below
    are a directed sigmoid belief net ``p(h_{l-1} | h_l)`` (Hinton, Osindero & Teh, 2006)."""

    def __init__(self, rbms):
        self.rbms = list(rbms)
        for lower, upper in zip(self.rbms, self.rbms[1:]):
            if lower.rbm.num_hidden != upper.num_visible:
                raise ValueError(f"RBM sizes do not chain: {lower.rbm.num_hidden} hidden units "
                                 f"feed {upper.num_visible} visible ones")

    @property
    def layer_sizes(self) -> list:
        return [self.rbms[0].num_visible] + [m.rbm.num_hidden for m in self.rbms]

    def transform(self, x, layers=None, batch_size=1024):
        """Up-pass ``p(h_l | h_{l-1})`` through the first ``layers`` RBMs (all by default)."""
        h = np.asarray(x, np.float32).reshape(len(x), -1)
        for model in self.rbms[:layers]:
            h = np.concatenate([model.rbm.hidden_probs(h[i:i + batch_size]).numpy()
                                for i in range(0, len(h), batch_size)])
        return h

    def sample(self, num_samples: int, gibbs_steps: int = 1000, start=None, seed: int = 0):
        """Gibbs chains of ``gibbs_steps`` in the top RBM (from ``start``, top-RBM visible states,
        else random bits), then one top-down pass: binary samples in the hidden layers, the
        probabilities ``p(v | h_1)`` at the bottom, shaped like the first RBM's input."""
        top = self.rbms[-1]
        if start is None:
            start = np.random.default_rng(seed).integers(0, 2, (num_samples, top.num_visible))
        v = tf.convert_to_tensor(np.asarray(start, np.float32).reshape(-1, top.num_visible))
        v, probs = tf.function(top.rbm.gibbs)(v, tf.constant(int(gibbs_steps)))
        for model in reversed(self.rbms[:-1]):
            probs, v = model.rbm.sample_v(v)
        return probs.numpy().reshape((-1, *self.rbms[0].input_shape[1:]))


def train_dbn(x, hidden_sizes, *, epochs=10, batch_size=64, k=1, persistent=False,
              optimizer=lambda: keras.optimizers.SGD(0.01, momentum=0.9), seed=0,
              trainer_kwargs=None, callbacks=()):
    """Greedy layer-wise training: RBM 1 by CD-k on ``x`` (values in [0, 1]), RBM 2 on
    ``p(h_1 | x)``, and so on. ``callbacks(layer)`` gives the Trainer hooks of RBM ``layer``
    (0-based) when callable. Returns ``(DeepBeliefNetwork, [History per layer])``."""
    from kerasdl.data.pipelines import from_arrays
    from kerasdl.train.contrastive_divergence import ContrastiveDivergenceTrainer

    x = np.asarray(x, np.float32)
    visible_shape, data, rbms, histories = x.shape[1:], x, [], []
    dummy = np.zeros(len(x), np.int32)
    for layer, num_hidden in enumerate(hidden_sizes):
        model = RBM(visible_shape=visible_shape, num_hidden=int(num_hidden), seed=seed + layer,
                    name=f"rbm_{layer + 1}")
        trainer = ContrastiveDivergenceTrainer(model, optimizer(), k=k, persistent=persistent,
                                               **(trainer_kwargs or {}))
        hooks = callbacks(layer) if callable(callbacks) else callbacks
        histories.append(trainer.fit(from_arrays(data, dummy, batch_size, training=True,
                                                 seed=seed + layer),
                                     epochs=epochs, callbacks=hooks))
        trainer.close()
        rbms.append(model)
        data = DeepBeliefNetwork([model]).transform(data)
        visible_shape = (int(num_hidden),)
    return DeepBeliefNetwork(rbms), histories
