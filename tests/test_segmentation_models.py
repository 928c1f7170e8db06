"""Segmentation building blocks against independent computations: the transposed-conv size rule,
FCN's bilinear upsampling, SegNet's index pooling vs tf.nn.max_pool_with_argmax + scatter,
PSPNet's adaptive pooling vs numpy means; and clear errors for bad configurations."""
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.layers import transposed_conv_output_size
from kerasdl.layers.unpooling import MaxPoolingWithIndices, MaxUnpooling
from kerasdl.models.segmentation.common import bilinear_upsample
from kerasdl.models.segmentation.context import AdaptiveAveragePooling2D

SIZE_CASES = [(n, k, s, p) for n, k, s, p in itertools.product((1, 3, 4, 7), (2, 3, 4, 5, 16), (1, 2, 3, 8), (0, 1, 2))
              if k >= s and 2 * p < k]


def test_transposed_conv_size_rule_matches_keras_for_many_settings():
    """Curriculum 003 (转置卷积): the transposed conv of (k, s, p) maps n to n' = s·n + k - 2p - s,
    the size whose conv by (k, s, p) gives back n. Keras' Conv2DTranspose has no explicit p: its
    "valid" output cropped by p on each side is the padded transposed conv."""
    for n, k, s, p in SIZE_CASES:
        shape = keras.layers.Conv2DTranspose(1, k, s, padding="valid").compute_output_shape((1, n, n, 1))
        shape = keras.layers.Cropping2D(p).compute_output_shape(shape)
        expected = s * n + k - 2 * p - s
        assert shape[1] == expected == transposed_conv_output_size(n, k, s, p), (n, k, s, p)
        if expected >= k:  # and the conv of the same (k, s, p) inverts the size
            back = tf.nn.conv2d(tf.zeros((1, expected, expected, 1)), tf.zeros((k, k, 1, 1)), s,
                                [(0, 0), (p, p), (p, p), (0, 0)])
            assert back.shape[1] == n, (n, k, s, p)
    assert len(SIZE_CASES) > 60


@pytest.mark.parametrize("stride", [2, 4, 8])
def test_fcn_upsampling_is_s_times_n_and_bilinear(stride):
    x = keras.Input((5, 5, 2))
    model = keras.Model(x, bilinear_upsample(x, stride, name="up"))
    assert model.output.shape[1:3] == (5 * stride, 5 * stride)  # k = 2s, "same": exactly s·n
    ramp = np.broadcast_to(np.arange(5, dtype="float32")[None, None, :, None], (1, 5, 5, 2))
    out = np.asarray(model(ramp))[0, :, :, 0]
    # bilinear interpolation of a linear ramp is linear: constant steps of 1/s away from borders
    inner = out[stride:-stride, stride:-stride]
    np.testing.assert_allclose(np.diff(inner, axis=1), 1 / stride, atol=1e-5)
    np.testing.assert_allclose(np.diff(inner, axis=0), 0, atol=1e-5)


def test_index_pooling_and_unpooling_match_max_pool_with_argmax_and_scatter():
    x = tf.random.stateless_normal((2, 6, 8, 3), (1, 2))
    pooled, index = MaxPoolingWithIndices()(x)
    ref, flat = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", include_batch_in_index=True)
    np.testing.assert_array_equal(pooled, ref)
    scattered = tf.reshape(tf.scatter_nd(tf.reshape(flat, (-1, 1)), tf.reshape(ref, (-1,)),
                                         (tf.size(x, out_type=tf.int64),)), x.shape)
    np.testing.assert_array_equal(MaxUnpooling()([pooled, index]), scattered)
    # the window-local index 2·dy + dx names the same pixel as the flat index
    b, i, j, c = np.meshgrid(*map(np.arange, pooled.shape), indexing="ij")
    rows, cols = 2 * i + np.asarray(index) // 2, 2 * j + np.asarray(index) % 2
    np.testing.assert_array_equal(((b * 6 + rows) * 8 + cols) * 3 + c, flat)


def test_max_pool_with_argmax_is_not_a_tflite_builtin():
    """Why SegNet does not use it: MaxPoolWithArgmax needs the Flex delegate."""
    from kerasdl.export import check_builtin_ops, convert

    class ArgmaxPool(keras.layers.Layer):
        def call(self, x):
            return tf.cast(tf.nn.max_pool_with_argmax(x, 2, 2, "VALID")[1], tf.float32)

    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, ArgmaxPool()(inputs))
    with pytest.raises(Exception, match="MaxPoolWithArgmax"):  # conversion or op check refuses
        check_builtin_ops(convert(model, "fp32"))


@pytest.mark.parametrize("size,bins", [(7, 3), (16, 6), (5, 1), (4, 4)])
def test_adaptive_pooling_matches_numpy_bin_means(size, bins):
    x = np.random.default_rng(size).random((2, size, size + 1, 3)).astype("float32")
    got = np.asarray(AdaptiveAveragePooling2D(bins)(x))
    edges = lambda n: [((i * n) // bins, -(-(i + 1) * n // bins)) for i in range(bins)]  # noqa: E731
    expected = np.stack([np.stack([x[:, r0:r1, c0:c1].mean((1, 2)) for c0, c1 in edges(size + 1)], 1)
                         for r0, r1 in edges(size)], 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_bad_configurations_name_the_problem():
    with pytest.raises(ValueError, match="variant"):
        kerasdl.create_model("fcn8s", variant=4)
    with pytest.raises(ValueError, match="version"):
        kerasdl.create_model("deeplab_v3", version="v4")
    with pytest.raises(ValueError, match="divisible by 2"):
        kerasdl.create_model("unet", input_shape=(36, 36, 1), depth=3)
    with pytest.raises(ValueError, match="no stride-16"):  # small_input ResNet: strides 1..8
        kerasdl.create_model("deeplab_v3", input_shape=(32, 32, 1), backbone="resnet18",
                             backbone_kwargs={"width": 0.125, "blocks": (1, 1, 1, 1), "small_input": True})
