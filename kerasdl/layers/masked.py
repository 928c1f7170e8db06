"""Masked layers for autoregressive models: PixelCNN's masked convolution and MADE's masked dense.

Both multiply their kernel by a fixed binary mask inside ``call``. The mask is a numpy constant
rebuilt from the config (never a weight), so a converted graph holds ``kernel * mask`` of two
constants, which TFLite and XLA fold into one plain CONV_2D / FULLY_CONNECTED kernel.

- ``MaskedConv2D`` (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", sec. 3.4), for
  1-channel images in raster order: mask type "A" keeps only the kernel taps strictly before the
  centre (rows above, and the centre row left of the centre), so an output never sees its own
  pixel — used once, on the image; type "B" also keeps the centre tap — used on later layers,
  whose centre feature already summarises only earlier pixels. Padding is "same", stride 1.
- ``MaskedDense`` (Germain et al. 2015, "MADE"): each input unit has a degree, each output unit a
  degree; the connection i -> j exists iff ``out[j] >= in[i]`` (hidden layers) or
  ``out[j] > in[i]`` (``strict=True``, the output layer), so output d depends only on inputs of
  degree < d.
"""
from __future__ import annotations

import keras
import numpy as np


def conv_mask(kernel_size, mask_type: str) -> np.ndarray:
    """The ``[kh, kw, 1, 1]`` float32 mask of a type "A" or "B" masked convolution (raster order)."""
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"masked convolutions need odd kernel sizes, got {kernel_size}")
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    mask = np.zeros((kh, kw, 1, 1), np.float32)
    mask[: kh // 2] = 1.0  # rows above the centre
    mask[kh // 2, : kw // 2 + (mask_type == "B")] = 1.0  # left of (type B: and at) the centre
    return mask


def degree_mask(input_degrees, output_degrees, strict: bool = False) -> np.ndarray:
    """MADE's ``[in, out]`` float32 connectivity mask: ``out[j] > in[i]`` if strict else ``>=``."""
    din = np.asarray(input_degrees, np.int64)[:, None]
    dout = np.asarray(output_degrees, np.int64)[None, :]
    return (dout > din if strict else dout >= din).astype(np.float32)


@keras.saving.register_keras_serializable(package="kerasdl")
class MaskedConv2D(keras.layers.Conv2D):
    """A "same"-padded, stride-1 ``Conv2D`` whose kernel is masked to type "A" or "B"."""

    def __init__(self, filters, kernel_size, mask_type="B", **kwargs):
        for key, allowed in (("padding", "same"), ("strides", (1, 1)), ("dilation_rate", (1, 1))):
            value = kwargs.pop(key, allowed)
            value = tuple(value) if isinstance(value, (list, tuple)) else value
            if value not in (allowed, 1) or (key == "padding" and value != "same"):
                raise ValueError(f"MaskedConv2D supports {key}={allowed!r} only, got {value!r}")
        if kwargs.get("data_format") == "channels_first":
            raise ValueError("MaskedConv2D supports channels_last only")
        super().__init__(filters, kernel_size, padding="same", **kwargs)
        self.mask_type = mask_type
        self._mask = conv_mask(self.kernel_size, mask_type)

    def convolution_op(self, inputs, kernel):
        kernel = keras.ops.cast(kernel, self.compute_dtype)
        return super().convolution_op(inputs, kernel * keras.ops.cast(self._mask, kernel.dtype))

    def get_config(self):
        config = super().get_config()
        for key in ("padding", "strides", "dilation_rate"):
            config.pop(key, None)
        return {**config, "mask_type": self.mask_type}


@keras.saving.register_keras_serializable(package="kerasdl")
class MaskedDense(keras.layers.Dense):
    """A ``Dense`` layer whose kernel is masked by MADE's degree rule (see :func:`degree_mask`).

    ``units`` is ``len(output_degrees)``; the input width must be ``len(input_degrees)``.
    """

    def __init__(self, input_degrees, output_degrees, strict=False, **kwargs):
        kwargs.pop("units", None)
        self.input_degrees = [int(d) for d in input_degrees]
        self.output_degrees = [int(d) for d in output_degrees]
        self.strict = bool(strict)
        super().__init__(len(self.output_degrees), **kwargs)
        self._mask = degree_mask(self.input_degrees, self.output_degrees, self.strict)

    def build(self, input_shape):
        if input_shape[-1] != len(self.input_degrees):
            raise ValueError(f"MaskedDense expects {len(self.input_degrees)} input features "
                             f"(one per input degree), got {input_shape[-1]}")
        super().build(input_shape)

    def call(self, inputs, training=None):
        kernel = keras.ops.cast(self.kernel, self.compute_dtype)
        outputs = keras.ops.matmul(inputs, kernel * keras.ops.cast(self._mask, kernel.dtype))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs

    def get_config(self):
        config = super().get_config()
        config.pop("units", None)
        return {**config, "input_degrees": self.input_degrees,
                "output_degrees": self.output_degrees, "strict": self.strict}
