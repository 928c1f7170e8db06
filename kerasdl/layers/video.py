"""Layers and blocks of the video networks; clips are channels-last ``[B, T, H, W, C]``.

- :class:`TemporalShift` (TSM, Lin et al. 2019): shift a fraction of the channels one frame
  forward and as many one frame back (zero-filled): temporal mixing at zero FLOPs and parameters.
- :class:`FrameGather`: pick frames (or channels) by fixed indices along an axis; TSN's segment
  snippets, the two-stream split, SlowFast's slow sampling, TRN's frame tuples.
- :class:`NeXtVLAD` (Lin et al. 2018): grouped NetVLAD pooling of frame features.
- :func:`inflate_kernel` / :func:`inflate_conv2d` (I3D, Carreira & Zisserman 2017): a 2-D
  kernel repeated over ``time`` frames and divided by ``time``, so a temporally constant clip
  gives the 2-D conv's response at every frame.
- :func:`non_local_block` (Wang et al. 2018): embedded-Gaussian self-attention over all T·H·W
  positions (Keras' MultiHeadAttention, one head), a zero-initialised BN, and a residual add.
- :func:`conv3d_bn_act`, :func:`spatial_pool`: the 3-D conv unit and a (1, 2, 2) max-pool that
  TFLite runs with built-ins (its converter has no MaxPool3D/AvgPool3D built-in; CONV_3D is one).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasdl.layers.blocks import BN_MOMENTUM, batch_norm

L = keras.layers


@keras.saving.register_keras_serializable(package="kerasdl")
class TemporalShift(L.Layer):
    """[B, T, H, W, C]: channels ``[0, C/fold_div)`` take the previous frame's values, channels
    ``[C/fold_div, 2C/fold_div)`` the next frame's; the rest stay. Frames shifted in from outside
    the clip are zeros (the paper's offline, bi-directional TSM)."""

    def __init__(self, fold_div: int = 8, **kwargs):
        super().__init__(**kwargs)
        if fold_div < 2:
            raise ValueError(f"fold_div must be >= 2 (a shifted fold per direction), got {fold_div}")
        self.fold_div = fold_div

    def build(self, input_shape):
        if len(input_shape) != 5 or input_shape[-1] // self.fold_div < 1:
            raise ValueError(f"TemporalShift needs [B, T, H, W, C] with C >= fold_div={self.fold_div}, "
                             f"got {input_shape}")
        self.built = True

    def call(self, x):
        fold = x.shape[-1] // self.fold_div
        zeros = ops.zeros_like(x[:, :1, :, :, :fold])
        forward = ops.concatenate([zeros, x[:, :-1, :, :, :fold]], 1)  # frame t gets t-1
        backward = ops.concatenate([x[:, 1:, :, :, fold:2 * fold], zeros], 1)  # frame t gets t+1
        return ops.concatenate([forward, backward, x[..., 2 * fold:]], -1)

    def get_config(self):
        return {**super().get_config(), "fold_div": self.fold_div}


@keras.saving.register_keras_serializable(package="kerasdl")
class FrameGather(L.Layer):
    """``x`` gathered at the fixed ``indices`` along ``axis`` (1 = time)."""

    def __init__(self, indices, axis: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.indices, self.axis = [int(i) for i in np.ravel(indices)], int(axis)

    def build(self, input_shape):
        size = input_shape[self.axis]
        if size is not None and (min(self.indices) < 0 or max(self.indices) >= size):
            raise ValueError(f"FrameGather indices {self.indices} out of range for axis {self.axis} "
                             f"of size {size} (input {input_shape})")
        self.built = True

    def call(self, x):
        return ops.take(x, np.asarray(self.indices, "int32"), axis=self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[self.axis] = len(self.indices)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "indices": self.indices, "axis": self.axis}


def segment_snippets(frames: int, segments: int, snippet: int = 1) -> np.ndarray:
    """TSN's inference sampling: ``segments`` equal segments of ``frames``, the snippet of
    ``snippet`` consecutive frames centred in each; [segments, snippet] frame indices."""
    if not 1 <= segments * snippet <= frames:
        raise ValueError(f"{segments} segments of {snippet} frames do not fit in {frames} frames")
    length = frames / segments
    starts = np.floor(np.arange(segments) * length + (length - snippet) / 2).astype(int)
    return starts[:, None] + np.arange(snippet)


@keras.saving.register_keras_serializable(package="kerasdl")
class SegmentSampler(L.Layer):
    """TSN's sparse sampling: [B, T, ...] -> [B, segments, snippet, ...]. At inference the
    snippet centred in each of ``segments`` equal segments (:func:`segment_snippets`); in
    training a random snippet start inside each segment, drawn per clip."""

    def __init__(self, segments: int = 3, snippet: int = 1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.segments, self.snippet, self.seed = segments, snippet, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.centres = segment_snippets(input_shape[1], self.segments, self.snippet)
        self.built = True

    def call(self, x, training=None):
        frames = x.shape[1]
        index = ops.convert_to_tensor(self.centres.ravel().astype("int32"))
        if training:
            length = frames // self.segments
            room = max(length - self.snippet, 0) + 1  # snippet starts that stay in the segment
            starts = np.arange(self.segments) * length
            offset = keras.random.randint((ops.shape(x)[0], self.segments), 0, room,
                                          seed=self.seed_generator, dtype="int32")
            first = ops.convert_to_tensor(starts.astype("int32")) + offset  # [B, K]
            index = ops.reshape(ops.expand_dims(first, -1) + np.arange(self.snippet, dtype="int32"),
                                (-1, self.segments * self.snippet))
            pick = ops.one_hot(index, frames, dtype=x.dtype)  # [B, K·L, T]: a batched gather
            x = ops.reshape(ops.matmul(pick, ops.reshape(x, (-1, frames, int(np.prod(x.shape[2:]))))),
                            (-1, self.segments * self.snippet, *x.shape[2:]))
        else:
            x = ops.take(x, index, axis=1)
        return ops.reshape(x, (-1, self.segments, self.snippet, *x.shape[2:]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.segments, self.snippet, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "segments": self.segments, "snippet": self.snippet,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerasdl")
class NeXtVLAD(L.Layer):
    """NeXtVLAD pooling: [B, M, N] frame features -> [B, clusters * expansion * N / groups].

    Expand to λN (λ = ``expansion``), split into G groups of λN/G; each group's features get a
    soft assignment over K clusters and a group attention (sigmoid); residuals to the cluster
    centres are summed over frames and groups, intra-normalised per cluster and L2-normalised.
    """

    def __init__(self, clusters: int = 8, groups: int = 4, expansion: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.clusters, self.groups, self.expansion = clusters, groups, expansion

    def build(self, input_shape):
        features = input_shape[-1] * self.expansion
        if len(input_shape) != 3 or features % self.groups:
            raise ValueError(f"NeXtVLAD needs [B, M, N] with expansion*N divisible by groups="
                             f"{self.groups}, got {input_shape}")
        self.group_size = features // self.groups
        self.expand = L.Dense(features, name="expand")
        self.attention = L.Dense(self.groups, activation="sigmoid", name="group_attention")
        self.assign = L.Dense(self.groups * self.clusters, name="assignment")
        self.expand.build(input_shape)
        for dense in (self.attention, self.assign):
            dense.build((*input_shape[:-1], features))
        self.centres = self.add_weight(shape=(self.clusters, self.group_size), name="centres",
                                       initializer="glorot_uniform")
        self.built = True

    def call(self, x):
        frames = x.shape[1]
        x = self.expand(x)  # [B, M, λN]
        gate = ops.expand_dims(self.attention(x), -1)  # [B, M, G, 1]
        assign = ops.reshape(self.assign(x), (-1, frames, self.groups, self.clusters))
        assign = ops.reshape(ops.softmax(assign, -1) * gate, (-1, frames * self.groups, self.clusters))
        grouped = ops.reshape(x, (-1, frames * self.groups, self.group_size))
        vlad = ops.matmul(ops.transpose(assign, (0, 2, 1)), grouped)  # [B, K, N/G·λ]
        vlad = vlad - ops.expand_dims(ops.sum(assign, 1), -1) * self.centres
        vlad = _l2_normalize(vlad, -1)
        return _l2_normalize(ops.reshape(vlad, (-1, self.clusters * self.group_size)), -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.clusters * input_shape[-1] * self.expansion // self.groups)

    def get_config(self):
        return {**super().get_config(), "clusters": self.clusters, "groups": self.groups,
                "expansion": self.expansion}


def _l2_normalize(x, axis, epsilon=1e-12):
    """x / max(||x||, eps), written with rsqrt so TFLite keeps it in built-ins."""
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis, keepdims=True), epsilon ** 2))


# ----------------------------------------------------------------------------- 3-D conv pieces
def inflate_kernel(kernel, time: int = 3) -> np.ndarray:
    """I3D's bootstrapping: a 2-D kernel [kh, kw, ci, co] -> [time, kh, kw, ci, co], the kernel
    repeated over ``time`` frames and divided by ``time``."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 4 or time < 1:
        raise ValueError(f"need a [kh, kw, ci, co] kernel and time >= 1, got {kernel.shape}, {time}")
    return np.repeat(kernel[None], time, 0) / time


def inflate_conv2d(conv: L.Conv2D, time: int = 3, *, temporal_padding: str = "same",
                   name: str | None = None) -> L.Conv3D:
    """A built Conv3D whose weights inflate those of the built Conv2D ``conv`` (bias copied)."""
    if not isinstance(conv, L.Conv2D) or not conv.built:
        raise ValueError(f"inflate_conv2d needs a built keras Conv2D, got {conv!r}")
    if conv.groups != 1 or conv.data_format != "channels_last":
        raise ValueError("inflate_conv2d supports channels_last, ungrouped convs")
    if temporal_padding not in ("same", "valid") or (conv.padding == "valid") != (temporal_padding == "valid"):
        raise ValueError("Keras Conv3D pads all axes alike: temporal_padding must equal the 2-D "
                         f"conv's padding {conv.padding!r}")
    conv3d = L.Conv3D(conv.filters, (time, *conv.kernel_size), (1, *conv.strides), conv.padding,
                      dilation_rate=(1, *conv.dilation_rate), activation=conv.activation,
                      use_bias=conv.use_bias, name=name or f"{conv.name}_inflated")
    conv3d.build((None, time, None, None, conv.kernel.shape[2]))
    weights = [inflate_kernel(ops.convert_to_numpy(conv.kernel), time)]
    if conv.use_bias:
        weights.append(ops.convert_to_numpy(conv.bias))
    conv3d.set_weights(weights)
    return conv3d


def conv3d_bn_act(x, filters: int, kernel_size=3, strides=1, *, name: str, activation="relu"):
    """Conv3D (no bias, 'same') -> BatchNorm -> activation (``None``: linear)."""
    x = L.Conv3D(filters, kernel_size, strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = batch_norm(x, f"{name}_bn")
    return L.Activation(activation, name=f"{name}_act")(x) if activation else x


def spatial_pool(x, *, name: str):
    """(1, 2, 2) max-pooling of [B, T, H, W, C] as a per-frame MaxPooling2D (TFLite built-in)."""
    return L.TimeDistributed(L.MaxPooling2D(), name=name)(x)


def non_local_block(x, *, name: str, inner: int | None = None):
    """x + BN(W·attention(x)) over all T·H·W positions; the BN's gamma starts at zero, so the
    block begins as the identity (Wang et al. 2018, §4.1). ``inner`` = C/2 by default."""
    t, h, w, c = x.shape[1:]
    flat = L.Reshape((t * h * w, c), name=f"{name}_flatten")(x)
    attended = L.MultiHeadAttention(1, inner or max(c // 2, 1), output_shape=c,
                                    name=f"{name}_attention")(flat, flat)
    attended = L.Reshape((t, h, w, c), name=f"{name}_unflatten")(attended)
    attended = L.BatchNormalization(momentum=BN_MOMENTUM, gamma_initializer="zeros",
                                    name=f"{name}_bn")(attended)
    return L.Add(name=f"{name}_add")([x, attended])
