"""Normalization layers under one roof: Keras' own norms, instance norm and weight normalization.

Which axes each norm averages over, for an NHWC feature map (statistics are computed per index
of the remaining axes):

* ``BatchNormalization()``: over N, H, W, one mean/variance per channel (moving averages
  at inference).
* ``LayerNormalization(axis=(-3, -2, -1))``: over H, W, C, one per sample (with a per-element
  affine of shape (H, W, C)). Keras' default ``axis=-1`` averages over C alone, per pixel, as
  Transformers use it; ``GroupNormalization(groups=1)`` is the per-sample H, W, C variant with a
  per-channel affine.
* ``GroupNormalization(groups=G)``: over H, W and the C/G channels of each group, per sample.
* ``instance_norm()`` = ``GroupNormalization(groups=-1)``: over H, W, per sample and channel.

The curriculum (file 000) states these averaging axes incorrectly: BN "在C维度上平均" (BN keeps
the channels apart and averages over N, H, W), LN "在batch维度上平均" and IN "在batch、C维度上平均"
(neither touches the batch axis: LN averages over H, W, C, IN over H, W). The tests check each
norm numerically against the axes above.
"""
from __future__ import annotations

import keras
from keras import ops

BatchNormalization = keras.layers.BatchNormalization
LayerNormalization = keras.layers.LayerNormalization
GroupNormalization = keras.layers.GroupNormalization
SpectralNormalization = keras.layers.SpectralNormalization

_TRANSPOSED_CONVS = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                     keras.layers.Conv3DTranspose)


def instance_norm(epsilon=1e-5, center=True, scale=True, **kwargs):
    """Instance normalization (Ulyanov et al. 2016): ``GroupNormalization(groups=-1)``, one group
    per channel, so each sample's channel is normalised over H, W."""
    return GroupNormalization(groups=-1, epsilon=epsilon, center=center, scale=scale, **kwargs)


@keras.saving.register_keras_serializable(package="kerasdl")
class WeightNormalization(keras.layers.Wrapper):
    """Weight normalization (Salimans & Kingma 2016) of a layer with a ``kernel`` (Dense, Conv*):
    the layer computes with ``w = g · v / ||v||``.

    ``v`` is the wrapped layer's own kernel; ``g`` holds one scale per output channel,
    initialised to ``||v||`` so the wrapped layer's output is unchanged at first. The norm runs
    over every kernel axis but the output-channel axis (the last, or the second-to-last for
    transposed convs). ``g`` and ``v`` are trained; the wrapped layer computes with ``w`` through
    ``keras.StatelessScope``, so gradients reach ``v``. No data-dependent initialisation.
    Serialisation (the wrapped layer's config) is ``keras.layers.Wrapper``'s.
    """

    def __init__(self, layer, epsilon=1e-12, **kwargs):
        super().__init__(layer, **kwargs)
        self.epsilon = epsilon

    def build(self, input_shape=None):
        super().build(input_shape)
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            raise ValueError(f"WeightNormalization needs a layer with a `kernel`; "
                             f"{type(self.layer).__name__} has none")
        output_axis = kernel.ndim - (2 if isinstance(self.layer, _TRANSPOSED_CONVS) else 1)
        self._norm_axes = tuple(a for a in range(kernel.ndim) if a != output_axis)
        self.g = self.add_weight(name="g", shape=(kernel.shape[output_axis],),
                                 initializer="ones")
        self.g.assign(ops.reshape(self._kernel_norm(kernel), (-1,)))
        self.built = True

    def _kernel_norm(self, v):
        return ops.sqrt(ops.sum(ops.square(v), axis=self._norm_axes, keepdims=True) + self.epsilon)

    def normalized_kernel(self):
        """``g · v / ||v||``, shaped as the wrapped layer's kernel."""
        v = ops.convert_to_tensor(self.layer.kernel)
        g_shape = [-1 if a not in self._norm_axes else 1 for a in range(len(v.shape))]
        return ops.reshape(self.g, g_shape) * v / self._kernel_norm(v)

    def call(self, inputs, training=None):
        with keras.StatelessScope(state_mapping=[(self.layer.kernel, self.normalized_kernel())]):
            return self.layer(inputs, training=training)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
