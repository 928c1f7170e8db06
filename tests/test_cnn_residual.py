"""ResNet / pre-act ResNet / ResNeXt / SE-ResNet / Wide ResNet / DenseNet: kernels against
keras.applications, parameter counts by independent formulas, small-input and backbone shapes,
family structure, and a Trainer smoke run of the cnn_zoo configuration."""
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.train import Trainer

SMALL_28 = {"input_shape": (28, 28, 1), "num_classes": 10, "small_input": True}


def trainable_params(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def kernel_shapes(model) -> Counter:
    """Multiset of conv/dense kernel shapes (biases and BN differ by convention, kernels do not)."""
    return Counter(tuple(layer.kernel.shape) for layer in model.layers
                   if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)))


def layers_of(model, kind, suffix=""):
    return [layer for layer in model.layers
            if isinstance(layer, kind) and layer.name.endswith(suffix)]


# keras.applications puts ResNet v1's stride on the first 1x1 and ResNetV2's on a stage's last
# block, and gives convs biases; none of that changes a kernel shape.
KERAS_REFERENCES = [
    ("resnet50", "ResNet50"),
    ("preact_resnet50", "ResNet50V2"),
    ("densenet121", "DenseNet121"),
    pytest.param("resnet101", "ResNet101", marks=pytest.mark.slow),
    pytest.param("resnet152", "ResNet152", marks=pytest.mark.slow),
    pytest.param("preact_resnet101", "ResNet101V2", marks=pytest.mark.slow),
    pytest.param("preact_resnet152", "ResNet152V2", marks=pytest.mark.slow),
    pytest.param("densenet169", "DenseNet169", marks=pytest.mark.slow),
    pytest.param("densenet201", "DenseNet201", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name, reference", KERAS_REFERENCES)
def test_kernel_shapes_match_keras_applications(name, reference):
    ours = kernel_shapes(kerasdl.create_model(name))
    theirs = kernel_shapes(getattr(keras.applications, reference)(weights=None))
    keras.backend.clear_session(free_memory=True)
    assert ours == theirs


# ----------------------------------------------------------------- counts by independent formulas
def conv(k, c_in, c_out, groups=1):
    return k * k * c_in // groups * c_out


def bn(c):
    return 2 * c  # gamma, beta (moving statistics are buffers)


def resnet50_count(num_classes=1000, se_reduction=0):
    """torchvision ResNet-50 (v1.5), plus Hu et al.'s SE FCs (with biases) when ``se_reduction``."""
    total = conv(7, 3, 64) + bn(64)
    c_in = 64
    for planes, blocks in zip((64, 128, 256, 512), (3, 4, 6, 3)):
        out = 4 * planes
        for b in range(blocks):
            total += conv(1, c_in, planes) + bn(planes) + conv(3, planes, planes) + bn(planes)
            total += conv(1, planes, out) + bn(out)
            if b == 0:
                total += conv(1, c_in, out) + bn(out)
            if se_reduction:
                r = out // se_reduction
                total += out * r + r + r * out + out
            c_in = out
    return total + 2048 * num_classes + num_classes


def wrn_count(depth=28, k=10, num_classes=10):
    """Zagoruyko & Komodakis' CIFAR WRN: bias-free convs, pre-activation B(3,3) blocks."""
    n = (depth - 4) // 6
    total, c_in = conv(3, 3, 16), 16
    for width in (16 * k, 32 * k, 64 * k):
        for b in range(n):
            total += bn(c_in) + conv(3, c_in, width) + bn(width) + conv(3, width, width)
            if c_in != width:
                total += conv(1, c_in, width)
            c_in = width
    return total + bn(c_in) + c_in * num_classes + num_classes


def test_formulas_reproduce_published_counts():
    assert resnet50_count() == 25_557_032  # torchvision resnet50
    assert resnet50_count(se_reduction=16) == 28_088_024  # timm / Cadene seresnet50
    assert wrn_count() == 36_479_194  # pytorchcv wrn28_10_cifar10; the paper says 36.5M
    assert wrn_count(16, 10) == 17_116_634  # pytorchcv wrn16_10_cifar10


@pytest.mark.parametrize("name, expected, kwargs", [
    ("seresnet50", resnet50_count(se_reduction=16), {}),
    ("seresnet50", resnet50_count(num_classes=10, se_reduction=16), {"num_classes": 10}),
    ("wrn28_10", wrn_count(), {}),
    ("wrn28_10", wrn_count(16, 8, 100), {"depth": 16, "widen_factor": 8, "num_classes": 100}),
])
def test_counts_match_formula(name, expected, kwargs):
    assert trainable_params(kerasdl.create_model(name, **kwargs)) == expected
    keras.backend.clear_session(free_memory=True)


# ----------------------------------------------------------------- shapes
SMALL_VARIANTS = {
    "resnet18": {"width": 0.125},
    "preact_resnet18": {"width": 0.125},
    "resnext50_32x4d": {"width": 0.25, "groups": 8},
    "seresnet50": {"width": 0.125},
    "wrn28_10": {"width": 0.125, "depth": 10},
    "densenet121": {"width": 0.25, "blocks": (2, 2, 2, 2)},
}


@pytest.mark.parametrize("name", SMALL_VARIANTS)
def test_small_input_form_on_28px_grey_images(name):
    model = kerasdl.create_model(name, **SMALL_28, **SMALL_VARIANTS[name])
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    assert tuple(model(x, training=False).shape) == (2, 10)
    sides = [v.shape[1] for v in model.backbone()(x).values()]
    # 3x3/1 stem, no pool: stages at 28, 14, 7, 4 px (WRN has three stages)
    assert sides == [28, 14, 7, 4][:len(sides)] and sides[-1] >= 4


@pytest.mark.parametrize("name, kwargs, strides, channels", [
    ("resnet18", {}, [4, 8, 16, 32], [64, 128, 256, 512]),
    ("resnet50", {"width": 0.25}, [4, 8, 16, 32], [64, 128, 256, 512]),
    ("densenet121", {"width": 0.25}, [4, 8, 16, 32], [64, 128, 256, 256]),
    ("resnet18", {"small_input": True, "input_shape": (32, 32, 3), "width": 0.125},
     [1, 2, 4, 8], [8, 16, 32, 64]),
    ("wrn28_10", {"width": 0.125}, [1, 2, 4], [24, 40, 80]),
])
def test_backbone_feature_strides(name, kwargs, strides, channels):
    model = kerasdl.create_model(name, **kwargs)
    side = model.inputs[0].shape[1]
    features = model.backbone()
    assert model.feature_strides == strides
    assert {k: tuple(v.shape[1:]) for k, v in features.output.items()} == {
        f"stride{s}": (side // s, side // s, c) for s, c in zip(strides, channels)}


# ----------------------------------------------------------------- family structure
def test_resnet50_is_v1_5_with_projection_shortcuts():
    model = kerasdl.create_model("resnet50", width=0.25)
    assert model.get_layer("stage2_block1_1_conv").strides == (1, 1)
    assert model.get_layer("stage2_block1_2_conv").strides == (2, 2)  # stride on the 3x3
    assert len(layers_of(model, keras.layers.Conv2D, "_shortcut_conv")) == 4
    assert len(layers_of(model, keras.layers.BatchNormalization, "_shortcut_bn")) == 4
    assert not any(layer.use_bias for layer in layers_of(model, keras.layers.Conv2D))


def test_zero_init_residual_zeroes_each_blocks_last_bn():
    model = kerasdl.create_model("resnet50", width=0.25, zero_init_residual=True)
    last = [layer for layer in model.layers if layer.name.endswith("_3_bn")]
    assert len(last) == 16 and all(not np.any(layer.gamma.numpy()) for layer in last)
    assert np.all(model.get_layer("stage1_block1_1_bn").gamma.numpy() == 1)
    with pytest.raises(ValueError, match="zero_init_residual"):
        kerasdl.create_model("preact_resnet18", zero_init_residual=True)


def test_preact_blocks_normalise_before_each_conv():
    model = kerasdl.create_model("preact_resnet18", width=0.25)
    block = [layer.name for layer in model.layers if layer.name.startswith("stage2_block1_")]
    assert block.index("stage2_block1_preact_bn") < block.index("stage2_block1_1_conv") \
        < block.index("stage2_block1_1_bn") < block.index("stage2_block1_2_conv")
    assert "stage2_block1_shortcut_bn" not in block  # projection is a bare 1x1 conv
    assert model.get_layer("post_bn").output.shape[-1] == 128


def test_resnext_uses_32_groups_of_4_per_plane():
    model = kerasdl.create_model("resnext50_32x4d")
    grouped = [layer for layer in layers_of(model, keras.layers.Conv2D) if layer.groups > 1]
    assert len(grouped) == 16 and {layer.groups for layer in grouped} == {32}
    assert grouped[0].filters == 128  # 32 groups x 4 = 2 x planes (64) in stage 1
    assert tuple(model.get_layer("stage4_block1_2_conv").kernel.shape) == (3, 3, 1024 // 32, 1024)
    with pytest.raises(ValueError, match="bottleneck"):
        kerasdl.create_model("resnet18", groups=32)
    keras.backend.clear_session(free_memory=True)


def test_wide_resnet50_doubles_the_bottleneck():
    model = kerasdl.create_model("resnet50", width_per_group=128, width=0.25)
    assert model.get_layer("stage1_block1_2_conv").filters == 32  # 2 x 16 planes
    assert model.get_layer("stage1_block1_3_conv").filters == 64  # output stays 4 x planes


def test_seresnet_squeezes_by_16_before_the_sum():
    model = kerasdl.create_model("seresnet50", width=0.5)
    reduce = [layer for layer in model.layers if layer.name.endswith("_se_reduce")]
    assert len(reduce) == 16
    for layer in reduce:
        block = layer.name[:-len("_se_reduce")]
        channels = model.get_layer(f"{block}_3_bn").output.shape[-1]
        assert layer.filters == channels // 16
    summed = model.get_layer("stage1_block1_add").input
    assert any(t is model.get_layer("stage1_block1_se_scale").output for t in summed)


def test_wrn28_10_has_28_bias_free_convs_and_optional_block_dropout():
    model = kerasdl.create_model("wrn28_10", block_dropout=0.3)
    convs = layers_of(model, keras.layers.Conv2D)
    assert len(convs) == 28 and not any(c.use_bias for c in convs)  # 1 stem + 24 + 3 projections
    assert len(layers_of(model, keras.layers.Dropout)) == 12
    assert [model.get_layer(f"feature_stride{s}").output.shape[-1] for s in (1, 2, 4)] == \
        [160, 320, 640]
    with pytest.raises(ValueError, match="6n \\+ 4"):
        kerasdl.create_model("wrn28_10", depth=27)
    keras.backend.clear_session(free_memory=True)


def test_densenet_layers_add_growth_rate_and_transitions_halve():
    model = kerasdl.create_model("densenet121")
    growth = [layer for layer in layers_of(model, keras.layers.Conv2D, "_2_conv")
              if layer.name.startswith("stage")]
    assert len(growth) == 58 and {layer.filters for layer in growth} == {32}
    assert {layer.filters for layer in layers_of(model, keras.layers.Conv2D, "_1_conv")
            if "layer" in layer.name} == {128}  # bottleneck 4k
    ends = {"stage1_layer6_concat": 256, "stage2_layer12_concat": 512,
            "stage3_layer24_concat": 1024, "stage4_layer16_concat": 1024}
    assert {k: model.get_layer(k).output.shape[-1] for k in ends} == ends
    assert [model.get_layer(f"stage{s}_transition_conv").filters for s in (1, 2, 3)] == \
        [128, 256, 512]
    keras.backend.clear_session(free_memory=True)


# ----------------------------------------------------------------- the cnn_zoo configuration
def test_trainer_smoke_resnet18_small_input_on_fashion_mnist_shape(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((48, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 48).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    trainer = Trainer(lambda: kerasdl.create_model("resnet18", width=0.125, **SMALL_28),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), "adam",
                      metrics=["accuracy"], precision="mixed_bfloat16", jit_compile=False,
                      checkpoint_dir=tmp_path, verbose=0)
    history = trainer.fit(data, epochs=1, steps_per_epoch=3)
    assert trainer.precision == "mixed_bfloat16"
    assert np.isfinite(history.epochs[-1]["loss"])
    assert trainer.model.outputs[0].dtype == "float32"
    trainer.close()
