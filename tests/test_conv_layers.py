"""Conv variants: NumPy conv references and size rules, grouped / dilated / separable convs,
deformable conv (DCNv2), weight normalization and the norms' axes, hourglass blocks."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.export import check_builtin_ops, convert, parity
from kerasdl.layers import (DeformableConv2D, GroupedConv2D, WeightNormalization, conv2d_im2col,
                            conv2d_naive, conv_output_size, deformable_conv2d,
                            effective_kernel_size, hourglass_block, instance_norm, same_padding,
                            transposed_conv_output_size)
from kerasdl.layers.conv_reference import padding_amounts

RNG = np.random.default_rng(0)


def normal(*shape, scale=1.0):
    return (RNG.normal(size=shape) * scale).astype("float32")


def assert_tflite_builtin_parity(model, x):
    flatbuffer = convert(model, "fp32")
    check_builtin_ops(flatbuffer)
    assert parity(model, flatbuffer, x)["max_abs_error"] <= 1e-4


# --------------------------------------------------------------------------- NumPy references


@pytest.mark.parametrize("kernel", [(3, 3), (2, 4)])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("padding", ["SAME", "VALID", "FULL"])
def test_naive_and_im2col_match_tf(padding, strides, dilation, kernel):
    x, w = normal(2, 9, 8, 3), normal(*kernel, 3, 4)
    pads = [padding_amounts(n, k, strides, dilation, padding) for n, k in zip((9, 8), kernel)]
    expected = tf.nn.conv2d(x, w, strides, [(0, 0), *pads, (0, 0)], dilations=dilation).numpy()
    naive = conv2d_naive(x, w, strides, padding, dilation)
    np.testing.assert_allclose(naive, expected, atol=1e-4)
    np.testing.assert_allclose(conv2d_im2col(x, w, strides, padding, dilation), expected, atol=1e-4)
    if padding == "SAME":  # TF's own SAME string agrees with same_padding, even kernels included
        np.testing.assert_allclose(tf.nn.conv2d(x, w, strides, "SAME", dilations=dilation), naive,
                                   atol=1e-4)
        assert expected.shape[1:3] == (-(-9 // strides), -(-8 // strides))
    else:
        full = padding == "FULL"
        sizes = [conv_output_size(n, k, strides, effective_kernel_size(k, dilation) - 1 if full
                                  else 0, dilation) for n, k in zip((9, 8), kernel)]
        assert list(expected.shape[1:3]) == sizes


def test_same_padding_puts_the_odd_pixel_after():
    assert same_padding(8, 2, 1) == (0, 1)
    assert same_padding(9, 3, 2) == (1, 1)
    assert same_padding(8, 3, 2) == (0, 1)
    assert same_padding(8, 3, 1, 2) == (2, 2)


@pytest.mark.parametrize("n,k,s", [(4, 3, 1), (4, 3, 2), (5, 4, 2), (3, 5, 3), (6, 2, 2)])
def test_transposed_conv_size_matches_keras_valid(n, k, s):
    layer = keras.layers.Conv2DTranspose(2, k, s, padding="valid")
    assert layer(np.zeros((1, n, n, 1), "float32")).shape[1] == transposed_conv_output_size(n, k, s)


def test_keras_transposed_conv_pads_to_s_n_when_kernel_is_smaller_than_stride():
    layer = keras.layers.Conv2DTranspose(2, 2, 3, padding="valid")
    assert layer(np.zeros((1, 4, 4, 1), "float32")).shape[1] == 12
    assert transposed_conv_output_size(4, 2, 3) == 11


@pytest.mark.parametrize("n,k,s,p", [(4, 3, 2, 1), (5, 4, 2, 1), (3, 5, 3, 2), (6, 3, 1, 1)])
def test_transposed_conv_with_padding_round_trips_and_is_the_adjoint(n, k, s, p):
    m = transposed_conv_output_size(n, k, s, p)
    pads = [(0, 0), (p, p), (p, p), (0, 0)]
    x, w, z = normal(1, n, n, 3), normal(k, k, 2, 3), normal(1, m, m, 2)
    up = tf.nn.conv2d_transpose(x, w, (1, m, m, 2), s, pads)
    down = tf.nn.conv2d(z, w, s, pads)
    assert up.shape[1] == m and down.shape[1] == n == conv_output_size(m, k, s, p)
    # <conv(z), x> == <z, conv_transpose(x)>: the transposed conv is the conv matrix transposed.
    np.testing.assert_allclose(tf.reduce_sum(down * x), tf.reduce_sum(z * up), rtol=1e-4)


# --------------------------------------------------------------------------- grouped, dilated, sepa


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_grouped_conv_has_one_gth_of_the_weights(groups):
    """k²·(Cin/g)·Cout + Cout parameters, 1/g of the dense conv's weights. The curriculum (000,
    分组卷积) says the parameter count "并不变" (is unchanged) under grouping: that is WRONG, both
    parameters and multiply-adds drop to 1/g."""
    layer = keras.layers.Conv2D(8, 3, groups=groups)
    layer.build((None, 6, 6, 8))
    assert layer.count_params() == 9 * (8 // groups) * 8 + 8
    assert layer.kernel.shape.num_elements() * groups == 9 * 8 * 8


def test_grouped_conv_equals_independent_convs_on_channel_slices():
    groups, x = 3, normal(2, 6, 6, 6)
    layer = keras.layers.Conv2D(9, 3, padding="same", groups=groups,
                                bias_initializer="random_normal")
    y = layer(x)
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    pieces = [tf.nn.conv2d(x[..., 2 * g:2 * g + 2], kernel[..., 3 * g:3 * g + 3], 1, "SAME")
              for g in range(groups)]
    np.testing.assert_allclose(y, tf.concat(pieces, -1) + bias, atol=1e-5)


@pytest.mark.parametrize("channels,groups,filters", [(8, 8, 16), (16, 4, 8), (24, 3, 6)],
                         ids=["depthwise-1-per-group", "depthwise-4-per-group",
                              "split-8-per-group"])
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (1, 2)])
def test_grouped_conv2d_equals_keras_grouped_conv_in_value_and_gradient(channels, groups, filters,
                                                                          strides, dilation):
    """kerasdl's CPU formulation (depthwise + sum, or split convs) against Keras' own grouped conv
    (XLA on CPU) with the same kernel; both paths, strided and dilated, forward and backward."""
    x = tf.constant(normal(2, 9, 9, channels))
    options = {"strides": strides, "dilation_rate": dilation, "padding": "same", "groups": groups,
               "bias_initializer": "random_normal"}
    ours = GroupedConv2D(filters, 3, **options)
    reference = keras.layers.Conv2D(filters, 3, **options)
    reference.build(x.shape)
    ours.build(x.shape)
    ours.set_weights(reference.get_weights())
    weights = 9 * channels // groups * filters + filters
    assert ours.count_params() == reference.count_params() == weights
    gradients = []
    for layer in (ours, reference):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * tf.cos(y))
        gradients.append((y, *tape.gradient(loss, [x, layer.kernel])))
    for got, expected in zip(*gradients):
        np.testing.assert_allclose(got, expected, atol=2e-4)


def test_grouped_conv2d_round_trips_and_converts_to_builtin_tflite(tmp_path):
    inputs = keras.Input((8, 8, 8))
    model = keras.Model(inputs, GroupedConv2D(8, 3, padding="same", groups=4)(inputs))
    x = normal(2, 8, 8, 8)
    model.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    assert isinstance(loaded.layers[-1], GroupedConv2D)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    assert_tflite_builtin_parity(model, x)


@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_dilated_conv_is_a_conv_with_a_zero_stuffed_kernel(dilation):
    size, x = effective_kernel_size(3, dilation), normal(1, 11, 11, 2)
    layer = keras.layers.Conv2D(2, 3, dilation_rate=dilation, use_bias=False)
    y = layer(x)
    assert y.shape[1] == 11 - size + 1 == conv_output_size(11, 3, 1, 0, dilation)
    stuffed = np.zeros((size, size, 2, 2), "float32")
    stuffed[::dilation, ::dilation] = layer.kernel.numpy()
    np.testing.assert_allclose(y, tf.nn.conv2d(x, stuffed, 1, "VALID"), atol=1e-5)


def test_separable_conv_params():
    layer = keras.layers.SeparableConv2D(8, 3)
    layer.build((None, 6, 6, 4))
    assert layer.count_params() == 3 * 3 * 4 + 4 * 8 + 8


# --------------------------------------------------------------------------- deformable conv


def test_layer_call_with_explicit_offsets_and_default_unit_modulation():
    layer, x = DeformableConv2D(2, bias_initializer="random_normal"), normal(1, 5, 5, 3)
    offsets = normal(1, 5, 5, 18, scale=0.7)
    got = layer(x, offsets=offsets)
    expected = deformable_conv2d(x, layer.kernel, offsets, np.ones((1, 5, 5, 9), "float32"))
    np.testing.assert_allclose(got, expected + layer.bias, atol=1e-5)


def numpy_deformable_same_3x3(x, kernel, offsets, modulation):
    """Independent loop reference: stride 1, SAME, 3x3 kernel, bilinear sampling, zero outside."""
    n, h, w, c = x.shape
    groups, taps = modulation.shape[-1] // 9, 9
    width = c // groups
    out = np.zeros((n, h, w, kernel.shape[-1]))
    for b, i, j, g, a, t in np.ndindex(n, h, w, groups, 3, 3):
        k = g * taps + a * 3 + t
        y, xx = i - 1 + a + offsets[b, i, j, 2 * k], j - 1 + t + offsets[b, i, j, 2 * k + 1]
        sample = np.zeros(width)
        for row in (int(np.floor(y)), int(np.floor(y)) + 1):
            for col in (int(np.floor(xx)), int(np.floor(xx)) + 1):
                if 0 <= row < h and 0 <= col < w:
                    weight = (1 - abs(y - row)) * (1 - abs(xx - col))
                    sample += weight * x[b, row, col, g * width:(g + 1) * width]
        out[b, i, j] += modulation[b, i, j, k] * sample @ kernel[a, t, g * width:(g + 1) * width]
    return out


@pytest.mark.parametrize("padding,strides,dilation", [
    ("same", 1, 1), ("valid", 1, 1), ("same", 2, 1), ("valid", 2, 1), ("same", 1, 2),
    ("valid", 1, 2)])
def test_fresh_deformable_layer_equals_conv2d(padding, strides, dilation):
    x = normal(2, 9, 9, 3)
    conv = keras.layers.Conv2D(4, 3, strides, padding, dilation_rate=dilation,
                               bias_initializer="random_normal")
    deform = DeformableConv2D(4, 3, strides, padding, dilation)
    expected = conv(x)
    deform.build(x.shape)
    deform.kernel.assign(conv.kernel)
    deform.bias.assign(conv.bias)
    np.testing.assert_allclose(deform(x), expected, atol=1e-5)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_zero_offsets_unit_modulation_strided_and_dilated(padding):
    x, w = normal(1, 10, 9, 2), normal(3, 3, 2, 3)
    expected = conv2d_im2col(x, w, 2, padding, 2)
    offsets = np.zeros((*expected.shape[:3], 18), "float32")
    modulation = np.ones((*expected.shape[:3], 9), "float32")
    np.testing.assert_allclose(deformable_conv2d(x, w, offsets, modulation, 2, padding, 2),
                               expected, atol=1e-5)


def test_integer_offset_samples_the_shifted_image():
    x, w = normal(1, 8, 8, 3), normal(3, 3, 3, 2)
    offsets = np.zeros((1, 8, 8, 18), "float32")
    offsets[..., 1::2] = 1.0  # dx = +1 for every tap
    shifted = np.pad(x[:, :, 1:], [(0, 0), (0, 0), (0, 1), (0, 0)])
    got = deformable_conv2d(x, w, offsets)
    np.testing.assert_allclose(got[:, :, 1:-1], tf.nn.conv2d(shifted, w, 1, "SAME")[:, :, 1:-1],
                               atol=1e-5)


def test_half_pixel_offset_averages_the_two_neighbours():
    x = normal(1, 3, 4, 1)
    offsets = np.tile(np.array([0.0, 0.5], "float32"), (1, 3, 4, 1))
    got = deformable_conv2d(x, np.ones((1, 1, 1, 1), "float32"), offsets)
    right = np.pad(x[:, :, 1:], [(0, 0), (0, 0), (0, 1), (0, 0)])  # zero beyond the image
    np.testing.assert_allclose(got, 0.5 * (x + right), atol=1e-6)


def test_fractional_offsets_and_groups_match_numpy_loops():
    x, w = normal(1, 4, 5, 4), normal(3, 3, 4, 3)
    offsets, modulation = normal(1, 4, 5, 36, scale=1.5), RNG.uniform(size=(1, 4, 5, 18))
    got = deformable_conv2d(x, w, offsets, modulation.astype("float32"))
    np.testing.assert_allclose(got, numpy_deformable_same_3x3(x, w, offsets, modulation),
                               atol=1e-4)


def randomise_offset_convs(model_or_layer, scale=0.3):
    for layer in model_or_layer._flatten_layers():
        if isinstance(layer, DeformableConv2D):
            layer.offset_conv.kernel.assign(normal(*layer.offset_conv.kernel.shape, scale=scale))
            layer.offset_conv.bias.assign(normal(*layer.offset_conv.bias.shape, scale=scale))


@pytest.mark.parametrize("random_offsets", [False, True])
def test_gradients_reach_the_offset_conv(random_offsets):
    layer, x = DeformableConv2D(4, offset_groups=3), normal(2, 6, 6, 3)
    layer.build(x.shape)
    if random_offsets:
        randomise_offset_convs(layer)
    offset_kernel = layer.offset_conv.kernel
    before = offset_kernel.numpy()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(layer(x) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)
    assert all(np.abs(g).max() > 0 for g in grads)
    keras.optimizers.SGD(0.1).apply(grads, layer.trainable_variables)
    assert np.abs(offset_kernel.numpy() - before).max() > 0


@pytest.fixture(scope="module")
def deformable_model():
    inputs = keras.Input((8, 8, 3))
    x = DeformableConv2D(6, offset_groups=3, name="dcn_grouped")(inputs)
    x = keras.layers.ReLU()(x)
    x = DeformableConv2D(4, strides=2, padding="valid", name="dcn_strided")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    randomise_offset_convs(model)
    return model


def test_deformable_model_under_xla(deformable_model):
    x = normal(2, 8, 8, 3)

    @tf.function(jit_compile=True)
    def forward_backward(x):
        with tf.GradientTape() as tape:
            y = deformable_model(x)
            loss = tf.reduce_sum(y ** 2)
        return y, tape.gradient(loss, deformable_model.trainable_variables)

    y, grads = forward_backward(x)
    np.testing.assert_allclose(y, deformable_model(x), atol=1e-5)
    assert all(np.isfinite(g).all() and np.abs(g).max() > 0 for g in grads)


def test_deformable_model_keras_round_trip(deformable_model, tmp_path):
    deformable_model.save(tmp_path / "dcn.keras")
    restored = keras.models.load_model(tmp_path / "dcn.keras")
    x = normal(3, 8, 8, 3)
    np.testing.assert_array_equal(restored(x), deformable_model(x))
    assert restored.get_layer("dcn_strided").get_config() == \
        deformable_model.get_layer("dcn_strided").get_config()


def test_deformable_model_converts_to_builtin_tflite(deformable_model):
    assert_tflite_builtin_parity(deformable_model, normal(4, 8, 8, 3))


# --------------------------------------------------------------------------- normalization

WRAPPED_LAYERS = [(lambda: keras.layers.Dense(5, bias_initializer="random_normal"), (3, 4)),
                  (lambda: keras.layers.Conv2D(5, 3, padding="same",
                                               bias_initializer="random_normal"), (2, 6, 6, 3))]


@pytest.mark.parametrize("make_layer,input_shape", WRAPPED_LAYERS)
def test_weight_norm_computes_with_g_times_unit_kernel(make_layer, input_shape):
    x, wrapped, plain = normal(*input_shape), WeightNormalization(make_layer()), make_layer()
    y = wrapped(x)
    plain.build(x.shape)
    plain.set_weights(wrapped.layer.get_weights())
    np.testing.assert_allclose(y, plain(x), atol=1e-5)  # g starts at ||v||: output unchanged
    v, bias = wrapped.layer.kernel.numpy(), wrapped.layer.bias.numpy()
    scale = RNG.uniform(0.5, 2.0, size=5).astype("float32")
    wrapped.g.assign(wrapped.g * scale)
    norm = np.sqrt((v ** 2).sum(axis=tuple(range(v.ndim - 1)), keepdims=True))
    plain.set_weights([wrapped.g.numpy() * v / norm, bias])
    y_scaled = wrapped(x)
    np.testing.assert_allclose(y_scaled, plain(x), atol=1e-5)
    np.testing.assert_allclose(y_scaled - bias, (y - bias) * scale, atol=1e-5)  # g: scale only
    np.testing.assert_array_equal(wrapped.layer.kernel.numpy(), v)


def test_weight_norm_gradient_is_orthogonal_to_v_and_a_step_trains():
    layer, x = WeightNormalization(keras.layers.Conv2D(4, 3)), normal(2, 6, 6, 3)
    layer.build(x.shape)
    variables = [layer.g, layer.layer.kernel]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((layer(x) - 1.0) ** 2)
    grad_g, grad_v = tape.gradient(loss, variables)
    v = layer.layer.kernel.numpy()
    # w = g·v/||v|| is invariant to ||v||, so dL/dv has no component along v (per channel).
    np.testing.assert_allclose((grad_v.numpy() * v).sum(axis=(0, 1, 2)), 0, atol=1e-5)
    before = [var.numpy() for var in variables]
    keras.optimizers.SGD(0.1).apply([grad_g, grad_v], variables)
    assert float(tf.reduce_mean((layer(x) - 1.0) ** 2)) < float(loss)
    assert all(np.abs(var.numpy() - old).max() > 0 for var, old in zip(variables, before))


def test_weight_norm_keras_round_trip(tmp_path):
    inputs = keras.Input((6, 6, 3))
    x = WeightNormalization(keras.layers.Conv2D(4, 3, activation="relu"))(inputs)
    x = WeightNormalization(keras.layers.Dense(2))(keras.layers.Flatten()(x))
    model = keras.Model(inputs, x)
    model.compile("adam", "mse", jit_compile=True)
    model.fit(normal(4, 6, 6, 3), normal(4, 2), verbose=0)  # g moves away from ||v||
    model.save(tmp_path / "wn.keras")
    x = normal(3, 6, 6, 3)
    np.testing.assert_array_equal(keras.models.load_model(tmp_path / "wn.keras")(x), model(x))


def structured_input():
    """Noise plus an offset along each of N, H, W, C, so each axis carries its own mean."""
    n, h, w, c = 4, 5, 6, 4
    offsets = [RNG.uniform(-3, 3, size=size).reshape([-1 if a == i else 1 for a in range(4)])
               for i, size in enumerate((n, h, w, c))]
    return (RNG.normal(size=(n, h, w, c)) * RNG.uniform(0.5, 2, size=c) + sum(offsets)).astype(
        "float32")


@pytest.mark.parametrize("make_norm,stated_axes,group_channels", [
    (keras.layers.BatchNormalization, (0, 1, 2), None),
    (lambda: keras.layers.LayerNormalization(axis=(-3, -2, -1)), (1, 2, 3), None),
    (lambda: keras.layers.GroupNormalization(groups=2), (1, 2, 4), 2),
    (instance_norm, (1, 2), None)])
def test_norms_normalise_over_exactly_the_stated_axes(make_norm, stated_axes, group_channels):
    y = np.asarray(make_norm()(structured_input(), training=True), "float64")
    if group_channels:  # (N, H, W, C) -> (N, H, W, G, C/G): axis 4 is the channel within a group
        y = y.reshape(*y.shape[:3], -1, group_channels)
    np.testing.assert_allclose(y.mean(axis=stated_axes), 0, atol=1e-4)
    np.testing.assert_allclose(y.var(axis=stated_axes), 1, atol=1e-2)
    for axis in stated_axes:  # averaging over fewer axes leaves the offset along the dropped one
        fewer = tuple(a for a in stated_axes if a != axis)
        assert np.abs(y.mean(axis=fewer)).max() > 0.1, (axis, fewer)


# --------------------------------------------------------------------------- hourglass


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_hourglass_keeps_the_input_shape(depth):
    inputs = keras.Input((16, 16, 8))
    outputs = hourglass_block(inputs, depth, 8, name="hg")
    assert outputs.shape == inputs.shape
    assert keras.Model(inputs, outputs)(normal(1, 16, 16, 8)).shape == (1, 16, 16, 8)


def test_hourglass_model_trains_and_converts_to_builtin_tflite():
    inputs = keras.Input((8, 8, 4))
    x = hourglass_block(inputs, 1, 4, name="hg")  # deeper levels add the same ops
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="heatmaps")(x))
    model.compile("adam", "mse", run_eagerly=True)  # tracing the train step alone takes ~30 s here
    history = model.fit(normal(4, 8, 8, 4), normal(4, 8, 8, 2), batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert_tflite_builtin_parity(model, normal(3, 8, 8, 4))
