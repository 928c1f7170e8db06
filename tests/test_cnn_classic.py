"""LeNet-5, AlexNet, VGG, NiN, GoogLeNet, Inception-v3, Xception and SqueezeNet: parameter counts
by independent formulas, kernel shapes against keras.applications, feature-map sizes of the
ImageNet and small-input forms, and family structure (aux heads, fire modules, ceil pooling)."""
import collections
import math

import keras
import numpy as np
import pytest

import kerasdl
from kerasdl.layers.blocks import max_pool_ceil
from kerasdl.models.vision.classic import VGG_CHANNELS, VGG_CONVS_PER_STAGE
from kerasdl.models.vision.inception import GOOGLENET_STAGES, inception_naive_block
from kerasdl.models.vision.squeezenet import SQUEEZENET_VERSIONS
from kerasdl.registry import MODELS

VGG_NAMES = [f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")]
NAMES = ["lenet5", "alexnet", *VGG_NAMES, "nin", "googlenet", "inception_v3", "xception",
         "squeezenet1_0", "squeezenet1_1"]


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def conv(k, c_in, c_out, bias=True, bn=False):
    """k x k conv (+ bias) (+ BatchNorm gamma and beta); ``k`` may be a (kh, kw) pair."""
    kh, kw = (k, k) if isinstance(k, int) else k
    return kh * kw * c_in * c_out + c_out * bias + 2 * c_out * bn


def dense(c_in, c_out):
    return c_in * c_out + c_out


def kernel_shapes(model) -> collections.Counter:
    """Multiset of conv / depthwise / pointwise / dense kernel shapes (no biases or BN)."""
    return collections.Counter(tuple(w.shape) for w in model.weights if w.name.endswith("kernel"))


def small_kwargs(name, **overrides):
    return {**MODELS.entry(name).info.get("small", {}), **overrides}


@pytest.fixture(autouse=True)
def _free_memory():
    yield
    keras.backend.clear_session(free_memory=True)


# ---- published counts, re-derived layer by layer ----

def test_lenet5_count_by_formula_in_both_forms():
    expected = conv(5, 1, 6) + conv(5, 6, 16) + dense(400, 120) + dense(120, 84) + dense(84, 10)
    assert expected == 61_706 == MODELS.entry("lenet5").info["params"]
    d2l_form = kerasdl.create_model("lenet5", input_shape=(28, 28, 1), small_input=True)
    assert trainable(d2l_form) == expected  # "same" C1 on 28 px also leaves 5x5x16 at S4


def test_alexnet_count_by_formula():
    convs = (conv(11, 3, 64) + conv(5, 64, 192) + conv(3, 192, 384) + conv(3, 384, 256)
             + conv(3, 256, 256))
    fcs = dense(6 * 6 * 256, 4096) + dense(4096, 4096) + dense(4096, 1000)
    assert convs + fcs == MODELS.entry("alexnet").info["params"]


@pytest.mark.parametrize("name", VGG_NAMES)
def test_vgg_counts_by_formula(name):
    depth, bn = int(name[3:5]), name.endswith("_bn")
    expected, c_in = 0, 3
    for channels, convs in zip(VGG_CHANNELS, VGG_CONVS_PER_STAGE[depth]):
        for _ in range(convs):  # torchvision keeps the conv bias in the BN variants
            expected += conv(3, c_in, channels, bias=True, bn=bn)
            c_in = channels
    expected += dense(7 * 7 * 512, 4096) + dense(4096, 4096) + dense(4096, 1000)
    assert expected == MODELS.entry(name).info["params"]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_nin_count_by_formula(batch_norm):
    """No published figure for d2l's ImageNet NiN: three convs per mlpconv block, all biased;
    with ``batch_norm`` each conv trades its bias for BatchNorm's gamma and beta."""
    def mlpconv(k, c_in, c_out):
        return (conv(k, c_in, c_out, bias=not batch_norm, bn=batch_norm)
                + 2 * conv(1, c_out, c_out, bias=not batch_norm, bn=batch_norm))

    expected = (mlpconv(11, 3, 96) + mlpconv(5, 96, 256) + mlpconv(3, 256, 384)
                + mlpconv(3, 384, 1000))
    conv_channels = 3 * (96 + 256 + 384 + 1000)  # bias -> gamma + beta: one more per channel
    assert expected == 7_439_608 + batch_norm * conv_channels
    assert "params" not in MODELS.entry("nin").info
    model = kerasdl.create_model("nin", batch_norm=batch_norm)
    assert trainable(model) == expected
    assert sum(isinstance(layer, keras.layers.BatchNormalization)
               for layer in model.layers) == 12 * batch_norm


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_squeezenet_counts_by_formula(name):
    (stem_filters, stem_kernel), stages = SQUEEZENET_VERSIONS[name[-3:].replace("_", ".")]
    expected, c_in = conv(stem_kernel, 3, stem_filters), stem_filters
    for squeeze, expand in (module for stage in stages for module in stage):
        expected += conv(1, c_in, squeeze) + conv(1, squeeze, expand) + conv(3, squeeze, expand)
        c_in = 2 * expand
    expected += conv(1, c_in, 1000)
    assert expected == MODELS.entry(name).info["params"]


def googlenet_formula(wide_kernel=3, aux=False):
    """Table 1 with torchvision's BasicConv2d (bias-free conv + BN) everywhere."""
    expected = conv(7, 3, 64, False, True) + conv(1, 64, 64, False, True)
    expected += conv(3, 64, 192, False, True)
    c_in = 192
    for block, (c1, c3r, c3, c5r, c5, pool_proj) in ((b, c) for stage in GOOGLENET_STAGES
                                                     for b, c in stage.items()):
        expected += sum(conv(k, i, o, False, True) for k, i, o in (
            (1, c_in, c1), (1, c_in, c3r), (3, c3r, c3), (1, c_in, c5r),
            (wide_kernel, c5r, c5), (1, c_in, pool_proj)))
        c_in = c1 + c3 + c5 + pool_proj
        if aux and block in ("4a", "4d"):  # 128 maps of 4x4 -> 1024 -> classes
            expected += conv(1, c_in, 128, False, True) + dense(2048, 1024) + dense(1024, 1000)
    return expected + dense(1024, 1000)


def test_googlenet_counts_by_formula_and_aux_heads():
    assert googlenet_formula() == MODELS.entry("googlenet").info["params"] == 6_624_904
    model = kerasdl.create_model("googlenet", aux_logits=True)
    assert trainable(model) == googlenet_formula(aux=True) == 13_004_888  # torchvision, aux on
    assert model.output_names == ["logits", "aux1_logits", "aux2_logits"]
    assert all(o.dtype == "float32" and o.shape == (None, 1000) for o in model.outputs)
    paper = kerasdl.create_model("googlenet", wide_kernel=5)
    assert trainable(paper) == googlenet_formula(wide_kernel=5)


def test_inception_v3_aux_head_count_and_recipe():
    info = MODELS.entry("inception_v3").info
    assert info["recipe"] == {"label_smoothing": 0.1}
    model = kerasdl.create_model("inception_v3", aux_logits=True)
    aux_head = conv(1, 768, 128, False, True) + conv(5, 128, 768, False, True) + dense(768, 1000)
    assert trainable(model) == info["params"] + aux_head == 27_161_264  # torchvision's figure
    assert model.output_names == ["logits", "aux_logits"]


# ---- keras.applications as the independent reference ----

@pytest.mark.parametrize("name, reference", [("vgg16", "VGG16"), ("vgg19", "VGG19")])
def test_vgg_matches_keras_applications(name, reference):
    keras_model = getattr(keras.applications, reference)(weights=None)
    shapes, count = kernel_shapes(keras_model), trainable(keras_model)
    del keras_model
    keras.backend.clear_session(free_memory=True)
    model = kerasdl.create_model(name)
    assert kernel_shapes(model) == shapes
    assert trainable(model) == count  # same convs with bias, same 25,088-4096-4096-1000 head


def test_inception_v3_matches_keras_applications():
    keras_model = keras.applications.InceptionV3(weights=None)
    model = kerasdl.create_model("inception_v3")
    assert kernel_shapes(model) == kernel_shapes(keras_model)
    # keras.applications' BatchNorm has no scale: one gamma per BN channel less.
    bn_channels = sum(layer.gamma.shape[0] for layer in model.layers
                      if isinstance(layer, keras.layers.BatchNormalization))
    assert trainable(model) - trainable(keras_model) == bn_channels == 17_216


def test_xception_matches_keras_applications():
    """keras.applications' SeparableConv2D = our DepthwiseConv2D + 1x1 Conv2D (same kernels)."""
    keras_model = keras.applications.Xception(weights=None)
    model = kerasdl.create_model("xception")
    assert kernel_shapes(model) == kernel_shapes(keras_model)
    assert trainable(model) == trainable(keras_model) == 22_855_952


# ---- feature maps of the ImageNet and small-input forms ----

FEATURE_SIDES = {  # feature-map sides: default input (width 1/16), then small_input at 32 px
    "lenet5": ([14, 5], [16, 6]),
    "alexnet": ([27, 13, 6], [16, 8, 4]),
    **{name: ([112, 56, 28, 14, 7], [32, 16, 8, 4, 2]) for name in VGG_NAMES},
    "nin": ([26, 12, 5], [16, 8, 4]),
    "googlenet": ([56, 28, 14, 7], [32, 16, 8, 4]),
    "inception_v3": ([73, 35, 17, 8], [32, 15, 7]),
    "xception": ([147, 74, 37, 19, 10], [32, 16, 8, 4]),
    "squeezenet1_0": ([109, 54, 27, 13], [32, 16, 8, 4]),
    "squeezenet1_1": ([111, 55, 27, 13], [32, 16, 8, 4]),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("small_input", [False, True], ids=["imagenet", "small"])
def test_backbone_feature_maps(name, small_input):
    kwargs = {"width": 1 / 16} if name != "lenet5" else {}
    if small_input:
        kwargs.update(input_shape=(32, 32, 3), small_input=True)
    model = kerasdl.create_model(name, **kwargs)
    side = model.inputs[0].shape[1]
    strides = {2 ** round(math.log2(side / s)): s for s in FEATURE_SIDES[name][small_input]}
    assert model.feature_strides == sorted(strides)  # side ratios rounded to powers of two
    maps = model.backbone().output
    assert {key: tuple(v.shape[1:3]) for key, v in maps.items()} == {
        f"stride{stride}": (s, s) for stride, s in strides.items()}


@pytest.mark.parametrize("name", NAMES)
def test_small_input_form_on_28px_grayscale(name):
    model = kerasdl.create_model(name, **small_kwargs(name, input_shape=(28, 28, 1),
                                                      num_classes=10, small_input=True))
    logits = model(np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32))
    assert logits.shape == (2, 10) and logits.dtype == "float32"
    assert np.isfinite(logits).all()


# ---- family structure ----

@pytest.mark.parametrize("name", ["nin", "squeezenet1_1", "googlenet"])
def test_float32_logits_under_mixed_precision(name):
    model = kerasdl.create_model(name, dtype="mixed_bfloat16", **small_kwargs(name))
    assert model.get_layer("logits").dtype_policy.compute_dtype == "float32"
    assert model(np.zeros((1, 32, 32, 3), "float32")).dtype == "float32"


def test_class_map_heads_end_in_relu_average():
    """NiN and SqueezeNet average ReLU'd class maps (as published): the logits are >= 0."""
    for name in ("nin", "squeezenet1_0"):
        model = kerasdl.create_model(name, **small_kwargs(name))
        logits = model(np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32))
        assert (np.asarray(logits) >= 0).all()


def test_fire_module_and_vgg_bn_structure():
    squeeze = kerasdl.create_model("squeezenet1_0", width=1 / 16)
    fire9 = squeeze.get_layer("fire9_concat")
    assert fire9.output.shape[-1] == 2 * squeeze.get_layer("fire9_expand3x3").filters
    vgg = kerasdl.create_model("vgg11_bn", **small_kwargs("vgg11_bn"))
    conv_layer = vgg.get_layer("block1_conv1_conv")
    assert conv_layer.use_bias and conv_layer.kernel_size == (3, 3)  # torchvision keeps it
    assert isinstance(vgg.get_layer("block1_conv1_bn"), keras.layers.BatchNormalization)


def test_inception_v3_factorised_convs():
    model = kerasdl.create_model("inception_v3", **small_kwargs("inception_v3"))
    kernels = {layer.kernel_size for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D)}
    assert {(1, 7), (7, 1), (1, 3), (3, 1)} <= kernels


def test_inception_naive_block_keeps_the_pooled_input():
    x = keras.Input((8, 8, 12))
    y = inception_naive_block(x, 4, 8, 2, name="naive")
    assert y.shape == (None, 8, 8, 4 + 8 + 2 + 12)


@pytest.mark.parametrize("side", range(5, 16))
def test_max_pool_ceil_matches_pytorch_ceil_mode(side):
    """Reference: pad with -inf to ceil((n - 3) / 2) + 1 windows, then a plain 3x3/2 max."""
    rng = np.random.default_rng(side)
    x = rng.random((1, side, side, 2), dtype=np.float32)
    out = -(-(side - 3) // 2) + 1
    padded = np.full((1, 2 * out + 1, 2 * out + 1, 2), -np.inf, np.float32)
    padded[:, :side, :side] = x
    expected = np.stack([np.stack([padded[0, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(0, 1))
                                   for j in range(out)]) for i in range(out)])[None]
    inputs = keras.Input((side, side, 2))
    pool = keras.Model(inputs, max_pool_ceil(inputs, name="pool"))
    np.testing.assert_array_equal(pool(x), expected)


def test_unknown_variants_are_rejected():
    with pytest.raises(ValueError, match="depth"):
        kerasdl.create_model("vgg11", depth=12)
    with pytest.raises(ValueError, match="version"):
        kerasdl.create_model("squeezenet1_0", version="2.0")
