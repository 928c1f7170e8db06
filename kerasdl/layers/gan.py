"""Layers of GAN architectures: SAGAN self-attention, minibatch discrimination, minibatch stddev.

All three use ops that XLA compiles and TFLite maps to built-ins (1x1 convs, RESHAPE, BATCH_MATMUL,
SOFTMAX, EXPAND_DIMS, ABS, EXP, SUM, CONCATENATION); no ``None``-indexing in ``call``.

- :class:`SelfAttention2D` (Zhang et al. 2019, SAGAN): every position attends to every other one,
  ``o = v · softmax(q^T k)``, and the block returns ``x + gamma · conv1x1(o)`` with a learnable
  scalar ``gamma`` initialised to 0, so the block starts as the identity and the network learns
  how much non-local evidence to mix in.
- :class:`MinibatchDiscrimination` (Salimans et al. 2016): lets the discriminator see the
  *batch*, so a collapsed generator (all samples alike) is easy to detect. Features ``f`` [B, A]
  are projected by a tensor ``T`` [A, K, D] to rows ``M_i`` [K, D]; for each kernel ``k``
  ``c_k(i, j) = exp(-||M_i,k - M_j,k||_1)`` and ``o_k(i) = sum_j c_k(i, j)`` (``j = i``
  included, as in the paper, adding a constant 1). Output: ``concat(f, o)`` [B, A + K].
- :class:`MinibatchStdDev` (Karras et al. 2018, ProGAN): the standard deviation of every feature
  over the batch, averaged into one scalar, appended as a constant feature map.
"""
from __future__ import annotations

import keras
from keras import ops


def _maybe_spectral(layer, spectral_norm: bool):
    return keras.layers.SpectralNormalization(layer) if spectral_norm else layer


@keras.saving.register_keras_serializable(package="kerasdl")
class SelfAttention2D(keras.layers.Layer):
    """SAGAN self-attention over the H·W positions of an NHWC feature map.

    Args:
        key_ratio: query/key channels = ``C // key_ratio`` (8 in SAGAN).
        value_ratio: value channels = ``C // value_ratio`` (2 in BigGAN/SAGAN code; a final
            1x1 conv maps them back to C).
        spectral_norm: wrap the four 1x1 convs in ``SpectralNormalization`` (SAGAN applies it in
            both networks).
    """

    def __init__(self, key_ratio: int = 8, value_ratio: int = 2, spectral_norm: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.key_ratio, self.value_ratio = int(key_ratio), int(value_ratio)
        self.spectral_norm = bool(spectral_norm)

    def build(self, input_shape):
        _, height, width, channels = input_shape
        if None in (height, width, channels):
            raise ValueError(f"SelfAttention2D needs static H, W, C, got {input_shape}")
        self.positions = int(height) * int(width)
        keys, values = max(1, channels // self.key_ratio), max(1, channels // self.value_ratio)
        self.dims = (keys, values)

        def conv(filters, name):
            layer = keras.layers.Conv2D(filters, 1, use_bias=False, name=name, dtype=self.dtype_policy)
            return _maybe_spectral(layer, self.spectral_norm)

        self.query, self.key = conv(keys, "query"), conv(keys, "key")
        self.value, self.out = conv(values, "value"), conv(channels, "out")
        for layer in (self.query, self.key, self.value):
            layer.build(input_shape)
        self.out.build((*input_shape[:-1], values))
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")
        self.built = True

    def _flat(self, x, channels):
        return ops.reshape(x, (-1, self.positions, channels))

    def attention_weights(self, inputs, training=None):
        """``softmax(q_i · k_j)`` over ``j``: [B, H·W (queries), H·W (keys)], rows sum to 1."""
        q = self._flat(self.query(inputs, training=training), self.dims[0])
        k = self._flat(self.key(inputs, training=training), self.dims[0])
        return ops.softmax(ops.matmul(q, ops.transpose(k, (0, 2, 1))), axis=-1)

    def call(self, inputs, training=None):
        beta = self.attention_weights(inputs, training=training)
        v = self._flat(self.value(inputs, training=training), self.dims[1])
        o = ops.reshape(ops.matmul(beta, v), (-1, *inputs.shape[1:3], self.dims[1]))
        return inputs + ops.cast(self.gamma, inputs.dtype) * self.out(o, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "key_ratio": self.key_ratio,
                "value_ratio": self.value_ratio, "spectral_norm": self.spectral_norm}


@keras.saving.register_keras_serializable(package="kerasdl")
class MinibatchDiscrimination(keras.layers.Layer):
    """Salimans et al. (2016) minibatch features: [B, A] -> [B, A + num_kernels].

    Args:
        num_kernels: K, the number of closeness features appended.
        kernel_dims: D, the length of each projected row compared with the L1 distance.
    """

    def __init__(self, num_kernels: int = 32, kernel_dims: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.num_kernels, self.kernel_dims = int(num_kernels), int(kernel_dims)

    def build(self, input_shape):
        self.T = self.add_weight(name="T", shape=(input_shape[-1], self.num_kernels * self.kernel_dims),
                                 initializer=keras.initializers.RandomNormal(stddev=0.05))
        self.built = True

    def closeness(self, inputs):
        """``c_k(i, j) = exp(-||M_i,k - M_j,k||_1)``: [B (i), B (j), K]."""
        m = ops.reshape(ops.matmul(inputs, ops.cast(self.T, inputs.dtype)),
                        (-1, self.num_kernels, self.kernel_dims))
        diff = ops.expand_dims(m, 1) - ops.expand_dims(m, 0)  # [B, B, K, D]
        return ops.exp(-ops.sum(ops.abs(diff), axis=-1))

    def call(self, inputs):
        return ops.concatenate([inputs, ops.sum(self.closeness(inputs), axis=1)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.num_kernels)

    def get_config(self):
        return {**super().get_config(), "num_kernels": self.num_kernels,
                "kernel_dims": self.kernel_dims}


@keras.saving.register_keras_serializable(package="kerasdl")
class MinibatchStdDev(keras.layers.Layer):
    """ProGAN's minibatch standard deviation: appends ``mean_features(std_batch(x))`` as one
    extra channel (NHWC maps) or feature (flat [B, A] inputs). Whole batch as one group."""

    def __init__(self, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        mean = ops.mean(inputs, axis=0, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(inputs - mean), axis=0, keepdims=True) + self.epsilon)
        axes = tuple(range(1, len(inputs.shape)))
        stat = ops.mean(std, axis=axes, keepdims=True)  # [1, 1, ...]
        feature = ops.zeros_like(inputs[..., :1]) + stat
        return ops.concatenate([inputs, feature], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
