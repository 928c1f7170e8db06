"""RefineNet and GCN blocks, the Resize layer and the dense CRF against independent computations:
closed-form parameter counts (GCN, boundary refinement), chained residual pooling vs scipy max
filters, bilinear resizing vs tf.image.resize (and BatchNorm after it in inference mode when
called without ``training=``, the PSPNet/DeepLab v3+ TFLite parity bug), CRF messages vs a
brute-force pairwise sum, and the CRF fixing a noisy mask on a real held-out nuclei tile."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

import kerasdl
from kerasdl.layers.blocks import conv_bn_act
from kerasdl.models.segmentation.common import resize_to
from kerasdl.models.segmentation.crf import dense_crf, dense_crf_messages
from kerasdl.models.segmentation.gcn import boundary_refinement, global_conv_block
from kerasdl.models.segmentation.refinenet import chained_residual_pooling, residual_conv_unit


@pytest.mark.parametrize("k,c_in,c_out", [(15, 64, 21), (7, 8, 2), (3, 5, 5)])
def test_gcn_block_parameter_count_is_the_closed_form(k, c_in, c_out):
    """Peng et al. 2017, Fig. 2b: two branches (k x 1 then 1 x k, and 1 x k then k x 1), biases."""
    x = keras.Input((16, 16, c_in))
    model = keras.Model(x, global_conv_block(x, c_out, k, name="gcn"))
    assert model.count_params() == 2 * k * (c_in * c_out + c_out * c_out) + 4 * c_out
    br = keras.Model(x, boundary_refinement(x, name="br"))
    assert br.count_params() == 2 * (9 * c_in * c_in + c_in)


def test_gcn_block_sums_two_separable_branches():
    """With all 1-D kernels set to ones, each branch sums the k x k window: output = 2·box sum."""
    x = keras.Input((9, 9, 1))
    model = keras.Model(x, global_conv_block(x, 1, 5, name="gcn"))
    for w in model.weights:
        w.assign(np.ones(w.shape) if len(w.shape) == 4 else np.zeros(w.shape))
    image = np.random.default_rng(0).random((1, 9, 9, 1)).astype("float32")
    box = ndimage.uniform_filter(image[0, :, :, 0], 5, mode="constant") * 25
    np.testing.assert_allclose(np.asarray(model(image))[0, :, :, 0], 2 * box, rtol=1e-5)


def test_residual_units_and_chained_pooling_against_scipy():
    x = keras.Input((8, 8, 3))
    rcu = keras.Model(x, residual_conv_unit(x, name="rcu"))
    crp = keras.Model(x, chained_residual_pooling(x, 2, name="crp"))
    identity = np.zeros((3, 3, 3, 3), "float32")
    identity[1, 1] = np.eye(3)
    for layer in crp.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(identity)
    rcu.get_layer("rcu_conv2").kernel.assign(np.zeros((3, 3, 3, 3)))
    v = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(rcu(v), v, atol=1e-6)  # zero residual: identity
    relu = np.maximum(v, 0)
    pool = lambda a: ndimage.maximum_filter(a, size=(1, 5, 5, 1), mode="nearest")  # noqa: E731
    np.testing.assert_allclose(crp(v), relu + pool(relu) + pool(pool(relu)), atol=1e-5)


def test_resize_is_tf_image_resize_and_keeps_batchnorm_in_inference():
    x = keras.Input((4, 5, 3))
    model = keras.Model(x, conv_bn_act(resize_to(x, (12, 10), "up"), 2, 3, name="h"))
    bn = model.get_layer("h_bn")
    bn.moving_mean.assign([0.3, -0.2])
    bn.moving_variance.assign([2.0, 0.5])
    v = np.random.default_rng(2).random((6, 4, 5, 3)).astype("float32")
    up = keras.Model(x, model.get_layer("up").output)
    np.testing.assert_allclose(up(v), tf.image.resize(v, (12, 10), "bilinear"), atol=1e-6)
    # keras.layers.Resizing here made model(v) use batch statistics (differences ~1)
    np.testing.assert_allclose(model(v), model(v, training=False), atol=1e-6)
    from kerasdl.export import check_builtin_ops, convert, parity

    flatbuffer = convert(model, "fp32")
    check_builtin_ops(flatbuffer)
    assert parity(model, flatbuffer, v)["max_abs_error"] <= 1e-5


def test_crf_messages_equal_a_brute_force_pairwise_sum():
    rng = np.random.default_rng(3)
    image, q = rng.random((5, 6)), rng.dirichlet(np.ones(3), (5, 6))
    kernel = dict(theta_alpha=2.0, theta_beta=0.3, theta_gamma=1.5, w_appearance=3.0, w_smoothness=1.0)
    pos = [(i, j) for i in range(5) for j in range(6)]
    expected = np.zeros_like(q)
    for a in pos:
        sums = np.zeros((2, 3))
        norms = np.zeros(2)
        for b in pos:
            if a == b:
                continue
            d2 = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
            k = (np.exp(-d2 / (2 * 2.0 ** 2) - (image[a] - image[b]) ** 2 / (2 * 0.3 ** 2)),
                 np.exp(-d2 / (2 * 1.5 ** 2)))
            sums += np.outer(k, q[b])
            norms += k
        expected[a] = 3.0 * sums[0] / norms[0] + 1.0 * sums[1] / norms[1]
    np.testing.assert_allclose(dense_crf_messages(q, image, chunk=7, **kernel), expected, rtol=1e-4)
    np.testing.assert_allclose(dense_crf(q, image, 3, w_appearance=0.0, w_smoothness=0.0), q, atol=1e-6)


def test_crf_fixes_a_noisy_mask_on_a_held_out_nuclei_tile():
    from kerasdl.data.nuclei import held_out_tiles
    from kerasdl.metrics import segmentation_scores

    x, y = held_out_tiles(128)
    image, truth = x[0, :48, :48, 0], y[0, :48, :48]
    noise = np.random.default_rng(4).normal(0, 0.3, truth.shape)
    p_fg = np.clip(0.3 + 0.4 * truth + noise, 0.02, 0.98)  # argmax wrong on ~25% of pixels
    probs = np.stack([1 - p_fg, p_fg], -1)
    before = segmentation_scores(truth[None], probs[None], 2)["foreground_iou"]
    after = segmentation_scores(truth[None], dense_crf(probs, image)[None], 2)["foreground_iou"]
    assert after > before + 0.3, (before, after)  # measured: 0.26 -> 0.70


def test_crf_and_models_name_bad_inputs():
    with pytest.raises(ValueError, match="L >= 2"):
        dense_crf(np.ones((4, 4)), np.ones((4, 4)))
    with pytest.raises(ValueError, match="differ in size"):
        dense_crf(np.ones((4, 4, 2)) / 2, np.ones((5, 4)))
    with pytest.raises(ValueError, match="divisible by 32"):
        kerasdl.create_model("gcn_large_kernel", input_shape=(48, 48, 1), num_classes=2, kernel_size=3,
                             backbone="resnet18", backbone_kwargs={"width": 0.125, "blocks": (1, 1, 1, 1)})
