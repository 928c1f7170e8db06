"""Teaching references for 2-D convolution in NumPy: output-size rules, a sliding-window conv and
the im2col + GEMM conv (the curriculum's "手推卷积" exercise).

Layouts follow TensorFlow: input NHWC, kernel HWIO ``(kh, kw, Cin, Cout)``. ``strides`` and
``dilation`` take an int or an ``(h, w)`` pair; ``padding`` is one of

* ``"VALID"``: no padding;
* ``"SAME"``: TensorFlow's rule, output ``ceil(n / s)``, the odd pixel of padding goes after
  (the curriculum's "SAME keeps input = output" holds only for stride 1);
* ``"FULL"``: ``k_eff - 1`` zeros on each side, every partial overlap counts.

These are slow on purpose; models use ``keras.layers.Conv2D``. The tests check both against
``tf.nn.conv2d``.
"""
from __future__ import annotations

import numpy as np

PADDINGS = ("SAME", "VALID", "FULL")


def effective_kernel_size(k: int, d: int = 1) -> int:
    """Extent of a kernel of size ``k`` dilated by ``d``: ``k + (k - 1)(d - 1)``."""
    return k + (k - 1) * (d - 1)


def conv_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """``floor((n + 2p - d(k - 1) - 1) / s) + 1``; with ``d = 1`` the curriculum's
    ``floor((n + 2p - k) / s) + 1``. ``p`` is the padding on each side."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def transposed_conv_output_size(n: int, k: int, s: int = 1, p: int = 0) -> int:
    """``s·n + k - 2p - s`` (= ``s(n - 1) + k - 2p``), the size whose convolution by ``(k, s, p)``
    gives back ``n``. Keras' ``Conv2DTranspose(padding="valid")`` returns this for ``k >= s``;
    for ``k < s`` it returns ``s·n`` (the extra ``s - k`` rows receive no kernel tap)."""
    return s * n + k - 2 * p - s


def same_padding(n: int, k: int, s: int = 1, d: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding ``(before, after)`` on one axis; ``after`` gets the odd pixel."""
    out = -(-n // s)
    total = max((out - 1) * s + effective_kernel_size(k, d) - n, 0)
    return total // 2, total - total // 2


def padding_amounts(n: int, k: int, s: int, d: int, padding: str) -> tuple[int, int]:
    """``(before, after)`` padding along one axis for ``padding`` in PADDINGS."""
    padding = padding.upper()
    if padding == "SAME":
        return same_padding(n, k, s, d)
    if padding == "VALID":
        return 0, 0
    if padding == "FULL":
        full = effective_kernel_size(k, d) - 1
        return full, full
    raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")


def _pair(value) -> tuple[int, int]:
    return (value, value) if np.isscalar(value) else tuple(value)


def _pad_input(x, w, strides, padding, dilation):
    """Zero-padded input, output size (Ho, Wo), and per-axis (kernel, stride, dilation)."""
    x, w = np.asarray(x, np.float32), np.asarray(w, np.float32)
    if x.ndim != 4 or w.ndim != 4 or x.shape[-1] != w.shape[2]:
        raise ValueError(f"expected NHWC input and HWIO kernel with matching Cin, got "
                         f"{x.shape} and {w.shape}")
    axes = list(zip(x.shape[1:3], w.shape[:2], _pair(strides), _pair(dilation)))
    pads = [padding_amounts(n, k, s, d, padding) for n, k, s, d in axes]
    out = [conv_output_size(n + before + after, k, s, 0, d)
           for (n, k, s, d), (before, after) in zip(axes, pads)]
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    return x, w, out, [(k, s, d) for _, k, s, d in axes]


def conv2d_naive(x, w, strides=1, padding="VALID", dilation=1) -> np.ndarray:
    """Sliding window: for every output position, the dot product of the (dilated) window with
    the kernel."""
    x, w, (out_h, out_w), ((kh, sh, dh), (kw, sw, dw)) = _pad_input(x, w, strides, padding,
                                                                    dilation)
    y = np.zeros((x.shape[0], out_h, out_w, w.shape[-1]), np.float32)
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * sh, j * sw
            window = x[:, top:top + dh * (kh - 1) + 1:dh, left:left + dw * (kw - 1) + 1:dw, :]
            y[:, i, j, :] = np.tensordot(window, w, axes=([1, 2, 3], [0, 1, 2]))
    return y


def im2col(x_padded, kernel_size, strides, dilation, output_size) -> np.ndarray:
    """Columns of a padded NHWC input: shape ``(N·Ho·Wo, kh·kw·Cin)``, one row per output position
    holding its window in (kh, kw, Cin) order, the order of ``kernel.reshape(-1, Cout)``."""
    (kh, kw), (sh, sw), (dh, dw) = _pair(kernel_size), _pair(strides), _pair(dilation)
    out_h, out_w = output_size
    taps = [x_padded[:, a * dh:a * dh + sh * (out_h - 1) + 1:sh,
                     b * dw:b * dw + sw * (out_w - 1) + 1:sw, :]
            for a in range(kh) for b in range(kw)]  # each (N, Ho, Wo, Cin)
    columns = np.stack(taps, axis=3)  # (N, Ho, Wo, kh·kw, Cin)
    return columns.reshape(-1, kh * kw * x_padded.shape[-1])


def conv2d_im2col(x, w, strides=1, padding="VALID", dilation=1) -> np.ndarray:
    """im2col then a single GEMM: ``(N·Ho·Wo, kh·kw·Cin) @ (kh·kw·Cin, Cout)``, reshaped to NHWC.

    Same arithmetic as the sliding window, but contiguous in memory and handed to BLAS in one
    call; the price is the columns matrix, ``kh·kw`` times the input (curriculum: 空间换时间).
    """
    x, w, out, ((kh, sh, dh), (kw, sw, dw)) = _pad_input(x, w, strides, padding, dilation)
    columns = im2col(x, (kh, kw), (sh, sw), (dh, dw), out)
    return (columns @ w.reshape(-1, w.shape[-1])).reshape(x.shape[0], *out, w.shape[-1])
