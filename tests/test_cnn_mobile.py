"""MobileNet v1/v2/v3 and ShuffleNet v2: kernel shapes against keras.applications, the published
totals, the small-input form, backbone strides, block structure, channel shuffle and h-swish."""
from collections import Counter

import keras
import numpy as np
import pytest

import kerasdl
from kerasdl.data.pipelines import from_arrays
from kerasdl.models.vision.shufflenet import ChannelShuffle, ChannelSplit
from kerasdl.train import Trainer

MOBILENETS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"]
SHUFFLENETS = ["shufflenet_v2_x1_0", "shufflenet_v2_x0_5"]


def kernel_shapes(model) -> Counter:
    """Multiset of conv/dense kernel shapes; a 1x1 conv kernel counts as the matrix it is, so
    keras.applications' 1x1-conv classifiers compare with our Dense logits."""
    shapes = (tuple(w.shape) for w in model.weights if w.name == "kernel")
    return Counter(s[2:] if len(s) == 4 and s[:2] == (1, 1) else s for s in shapes)


def torchvision_make_divisible(value, divisor=8):
    """torchvision.models._utils._make_divisible, written out independently."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def layers_named(model, suffix):
    return [layer for layer in model.layers if layer.name.endswith(suffix)]


# keras.applications' MobileNetV3 is the same network as torchvision's at alpha=1 (same trainable
# count; head = 1x1 convs with bias on the pooled map = Linear layers; SE squeeze
# _depth(C_exp/4)). It differs only for alpha != 1: keras keeps the 16-channel stem and thins the
# 1280/1024 head only for alpha > 1, where torchvision (and we) scale both. So compare at alpha=1.
@pytest.mark.parametrize("name, application, alpha", [
    ("mobilenet_v1", "MobileNet", 1.0),
    ("mobilenet_v1", "MobileNet", 0.5),
    ("mobilenet_v2", "MobileNetV2", 1.0),
    ("mobilenet_v2", "MobileNetV2", 0.35),  # rounds to multiples of 8
    ("mobilenet_v2", "MobileNetV2", 1.4),  # the last conv widens too
    ("mobilenet_v3_large", "MobileNetV3Large", 1.0),
    ("mobilenet_v3_small", "MobileNetV3Small", 1.0),
])
def test_kernel_shapes_match_keras_applications(name, application, alpha):
    reference = getattr(keras.applications, application)(weights=None, alpha=alpha)
    ours = kerasdl.create_model(name, width=alpha)
    assert kernel_shapes(ours) == kernel_shapes(reference)
    assert ours.count_params() == reference.count_params()  # incl. BN moving statistics
    keras.backend.clear_session(free_memory=True)


def test_published_totals_including_batch_norm_statistics():
    # keras.applications.MobileNet(alpha=1.0): 4,231,976 trainable, 4,253,864 in all;
    # MobileNetV2: 3,504,872 trainable (the contract checks it), 3,538,984 in all.
    assert kerasdl.create_model("mobilenet_v1").count_params() == 4_253_864
    assert kerasdl.create_model("mobilenet_v2").count_params() == 3_538_984


@pytest.mark.parametrize("name", MOBILENETS + SHUFFLENETS)
def test_small_input_form_keeps_a_4x4_map(name):
    model = kerasdl.create_model(name, input_shape=(28, 28, 1), num_classes=10, small_input=True,
                                 width=0.25)
    out = model(np.zeros((2, 28, 28, 1), "float32"), training=False)
    assert tuple(out.shape) == (2, 10)
    last = model.get_layer(f"feature_stride{max(model.feature_strides)}")
    assert last.output.shape[1:3] == (4, 4)  # 28 -> 28, 14, 7, 4: total stride 8


@pytest.mark.parametrize("name", MOBILENETS + SHUFFLENETS)
def test_backbone_strides(name):
    imagenet = kerasdl.create_model(name, input_shape=(64, 64, 3), width=0.25)
    expected = [4, 8, 16, 32] if name in SHUFFLENETS else [2, 4, 8, 16, 32]
    features = imagenet.backbone()(np.zeros((1, 64, 64, 3), "float32"))
    assert {k: v.shape[1] for k, v in features.items()} == {f"stride{s}": 64 // s for s in expected}
    small = kerasdl.create_model(name, input_shape=(32, 32, 3), width=0.25, small_input=True)
    assert small.feature_strides == [1, 2, 4, 8]


def test_mobilenet_v1_is_a_plain_depthwise_separable_stack():
    model = kerasdl.create_model("mobilenet_v1", width=0.25, input_shape=(32, 32, 3))
    assert len(layers_named(model, "_dwconv")) == 13
    assert not layers_named(model, "_add")
    assert {layer.activation.__name__ for layer in layers_named(model, "_act")} == {"relu6"}


def test_mobilenet_v2_inverted_residuals():
    model = kerasdl.create_model("mobilenet_v2", width=0.5, input_shape=(32, 32, 3))
    assert len(layers_named(model, "_dwconv")) == 17
    assert len(layers_named(model, "_add")) == 10  # n - 1 per stage of Table 2
    assert "block1_expand_conv" not in [layer.name for layer in model.layers]  # t = 1
    assert model.get_layer("block2_expand_conv").filters == 6 * 8
    assert model.get_layer("stem_conv").filters == 16 and model.get_layer("top_conv").filters == 1280
    assert model.get_layer("block2_project_bn").output.shape[-1] == 16
    assert "block2_project_act" not in [layer.name for layer in model.layers]  # linear bottleneck


@pytest.mark.parametrize("name, blocks, se_blocks, last_conv, head", [
    ("mobilenet_v3_large", 15, 8, 960, 1280),
    ("mobilenet_v3_small", 11, 9, 576, 1024),
])
def test_mobilenet_v3_structure(name, blocks, se_blocks, last_conv, head):
    model = kerasdl.create_model(name)
    assert len(layers_named(model, "_dwconv")) == blocks
    gates = layers_named(model, "_se_expand")
    assert len(gates) == se_blocks
    assert {g.activation.__name__ for g in gates} == {"hard_sigmoid"}
    assert {r.activation.__name__ for r in layers_named(model, "_se_reduce")} == {"relu"}
    assert model.get_layer("stem_act").activation.__name__ == "hard_silu"
    assert model.get_layer("top_conv").filters == last_conv
    assert model.get_layer("head_conv").filters == head
    assert model.get_layer("head_dropout").rate == 0.2
    for reduce, gate in zip(layers_named(model, "_se_reduce"), gates):
        assert reduce.filters == torchvision_make_divisible(gate.filters // 4)
    if name == "mobilenet_v3_large":  # 72 -> 24 (not 18)
        assert model.get_layer("block4_se_reduce").filters == 24


def test_hard_sigmoid_and_hard_swish_match_torchvision():
    """torchvision: Hardsigmoid = relu6(x + 3) / 6, Hardswish = x * relu6(x + 3) / 6."""
    x = np.linspace(-6, 6, 97, dtype="float32")  # includes the kinks at -3 and 3
    gate = np.clip(x + 3, 0, 6) / 6
    np.testing.assert_allclose(keras.activations.hard_sigmoid(x), gate, atol=1e-7)
    np.testing.assert_allclose(keras.activations.get("hard_swish")(x), x * gate, atol=1e-6)


def test_channel_shuffle_matches_numpy_reshape_transpose():
    x = np.random.default_rng(0).random((2, 3, 5, 12), dtype=np.float32)
    for groups in (2, 3, 4):
        reference = x.reshape(2, 3, 5, groups, 12 // groups).swapaxes(-1, -2).reshape(x.shape)
        np.testing.assert_array_equal(ChannelShuffle(groups)(x), reference)
    # groups = 2 interleaves the two halves: [a0 b0 a1 b1 ...]
    order = np.asarray(ChannelShuffle(2)(np.arange(8, dtype="float32").reshape(1, 1, 1, 8)))
    assert order.ravel().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    left, right = ChannelSplit()(x)
    np.testing.assert_array_equal(left, x[..., :6])
    np.testing.assert_array_equal(right, x[..., 6:])


def test_shufflenet_v2_units():
    model = kerasdl.create_model("shufflenet_v2_x1_0")
    assert len(layers_named(model, "_shuffle")) == 16
    assert len(layers_named(model, "_split")) == 13  # stride-1 units split the channels
    assert len(layers_named(model, "_left_dw_dwconv")) == 3  # downsampling units: both branches
    assert [model.get_layer(f"stage{s}_unit1_concat").output.shape[-1] for s in (2, 3, 4)] == \
        [116, 232, 464]
    assert model.get_layer("stem_pool").output.shape[1] == 56
    assert kerasdl.create_model("shufflenet_v2_x0_5").get_layer("stage4_unit4_concat") \
        .output.shape[-1] == 192


def test_mobilenet_v2_small_input_trains_with_trainer():
    """The cnn_zoo configuration (Fashion-MNIST 28x28x1), thinned: three Trainer steps."""
    rng = np.random.default_rng(0)
    x, y = rng.random((48, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 48).astype("int32")
    trainer = Trainer(lambda: kerasdl.create_model("mobilenet_v2", input_shape=(28, 28, 1),
                                                   num_classes=10, small_input=True, width=0.25),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), "adam",
                      jit_compile=False, verbose=0)
    trainer.fit(from_arrays(x, y, 16, training=True), epochs=1, steps_per_epoch=3)
    assert np.isfinite(trainer.history.epochs[-1]["loss"])
    trainer.close()
