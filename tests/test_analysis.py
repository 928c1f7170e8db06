"""kerasdl.analysis against independent references: Keras' own parameter counts, TensorFlow's
profiler, published figures, the curriculum's worked numbers and receptive fields measured by
back-propagating from one output pixel."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.analysis import analyze, conv_output_size, profile_function, profile_model
from kerasdl.analysis.report import PROFILED
from kerasdl.layers import ConvBNAct, GroupedConv2D

L = keras.layers
APPLICATIONS = {"resnet50": keras.applications.ResNet50, "vgg16": keras.applications.VGG16,
                "mobilenetv2": keras.applications.MobileNetV2}


@pytest.fixture(scope="module")
def applications():
    """Full-size keras.applications models (224x224, weights=None), built once, with reports."""
    models = {name: build(weights=None) for name, build in APPLICATIONS.items()}
    return {name: (model, analyze(model)) for name, model in models.items()}


def _single(layer, input_shape):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layer(inputs))


class ResidualUnit(L.Layer):
    """A composite layer that is not a chain (x + conv(x)): analysis falls back to the profiler."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = L.Conv2D(4, 3, padding="same")

    def call(self, x):
        return x + self.conv(x)


class ActFirst(L.Layer):
    """Creates its sublayers in another order than it calls them: not entered either."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.act, self.conv = L.Activation("relu"), L.Conv2D(4, 3, padding="same")

    def call(self, x):
        return self.act(self.conv(x))


def _custom_model():
    """ConvBNAct units, a nested Sequential, a nested functional model, a shared layer, a keras op
    and the two opaque composites."""
    inner_in = keras.Input((16, 16, 8))
    inner = keras.Model(inner_in, ConvBNAct(8, name="inner_cba")(inner_in), name="inner")
    shared = L.Conv2D(8, 1, name="shared")
    inputs = keras.Input((32, 32, 3))
    x = ConvBNAct(8, strides=2, name="stem")(inputs)
    x = keras.Sequential([L.Conv2D(8, 3, padding="same", name="conv"),
                          L.BatchNormalization(name="bn")], name="seq")(x)
    x = inner(x)
    x = keras.ops.add(shared(x), shared(x))
    x = ResidualUnit(name="residual")(L.Conv2D(4, 1, name="narrow")(x))
    x = ActFirst(name="act_first")(x)
    outputs = L.Dense(3, name="logits")(L.GlobalAveragePooling2D(name="pool")(x))
    return keras.Model(inputs, outputs, name="custom")


# --- parameters -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_params_equal_keras_per_layer_and_in_total(applications, name):
    model, report = applications[name]
    for row in report.layers:
        assert row.params == model.get_layer(row.name).count_params(), row.name
    assert report.params == model.count_params()
    assert report.trainable_params == sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_custom_model_is_walked_through_nesting_and_composites():
    model = _custom_model()
    report = analyze(model)
    names = [row.name for row in report.layers]
    assert names[:3] == ["stem/conv", "stem/bn", "stem/act"]  # ConvBNAct entered in call order
    assert {"seq/conv", "seq/bn", "inner/inner_cba/conv", "shared", "shared#1"} <= set(names)
    stem = sum(report.layer(f"stem/{part}").params for part in ("conv", "bn", "act"))
    assert stem == model.get_layer("stem").count_params()
    assert report.layer("shared#1").params == 0  # weights counted at the first call only
    assert report.params == model.count_params()
    assert report.trainable_params == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    add = next(row for row in report.layers if row.layer_type == "Add")
    assert add.flops == 16 * 16 * 8  # keras.ops.add in the graph: one add per element


def test_models_without_a_layer_graph_are_refused():
    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="neither functional nor Sequential"):
        analyze(Subclassed())
    with pytest.raises(ValueError, match="before analysing"):
        analyze(keras.Sequential([L.Dense(2)]))


def test_opaque_composites_are_counted_by_the_profiler():
    report = analyze(_custom_model())
    for name in ("residual", "act_first"):
        row = report.layer(name)
        assert PROFILED in row.note
    unit = ResidualUnit()
    unit(tf.zeros((1, 16, 16, 4)))  # build outside the trace: initialisers would add float ops
    alone = profile_function(unit, [tf.TensorSpec((1, 16, 16, 4))])
    macs = 16 * 16 * 4 * 9 * 4
    assert report.layer("residual").macs == macs
    assert report.layer("residual").flops == alone.total == 2 * macs + 2 * 16 * 16 * 4  # bias, add
    assert report.layer("residual").receptive_field.describe() == "?"  # no geometric rule
    assert report.layer("pool").receptive_field.describe() == "global"


# --- FLOPs: formulas, curriculum, published figures, TensorFlow's profiler ------------------------

def _add_model():
    a, b = keras.Input((4, 4, 3)), keras.Input((4, 4, 3))
    return keras.Model([a, b], L.Add()([a, b]))


FORMULA_CASES = {  # (model, MACs, FLOPs), computed by hand from the curriculum's formulas
    "curriculum 5x5 * 3x3 no bias": (lambda: _single(L.Conv2D(1, 3, use_bias=False), (5, 5, 1)),
                                     81, (2 * 9 - 1) * 9),
    "conv with bias": (lambda: _single(L.Conv2D(1, 3), (5, 5, 1)), 81, 2 * 9 * 9),
    "grouped conv": (lambda: _single(L.Conv2D(8, 3, padding="same", groups=2, use_bias=False),
                                     (6, 6, 4)), 2 * 9 * 36 * 8, (2 * 2 * 9 - 1) * 36 * 8),
    "dilated conv": (lambda: _single(L.Conv2D(4, 3, dilation_rate=2), (9, 9, 2)),
                     2 * 9 * 25 * 4, 2 * 2 * 9 * 25 * 4),
    "depthwise": (lambda: _single(L.DepthwiseConv2D(3, padding="same", use_bias=True), (4, 4, 3)),
                  9 * 16 * 3, 2 * 9 * 16 * 3),
    "separable": (lambda: _single(L.SeparableConv2D(5, 3, padding="same"), (4, 4, 3)),
                  9 * 16 * 3 + 3 * 16 * 5, (2 * 9 - 1) * 16 * 3 + 2 * 3 * 16 * 5),
    "transposed": (lambda: _single(L.Conv2DTranspose(2, 3, strides=2, padding="same"), (3, 3, 4)),
                   9 * 4 * 9 * 2, 2 * 9 * 4 * 9 * 2 + 6 * 6 * 2),
    "dense no bias": (lambda: _single(L.Dense(5, use_bias=False), (7,)), 35, (2 * 7 - 1) * 5),
    "dense + sigmoid": (lambda: _single(L.Dense(3, activation="sigmoid"), (4,)), 12, 24 + 4 * 3),
    "max pool": (lambda: _single(L.MaxPooling2D(2), (4, 4, 3)), 0, 4 * 2 * 2 * 3),
    "avg pool": (lambda: _single(L.AveragePooling2D(3, strides=1), (5, 5, 2)), 0, 9 * 3 * 3 * 2),
    "global pool": (lambda: _single(L.GlobalAveragePooling2D(), (4, 4, 3)), 0, 48),
    "batch norm": (lambda: _single(L.BatchNormalization(), (4, 4, 3)), 0, 2 * 48),
    "relu": (lambda: _single(L.Activation("relu"), (4, 4, 3)), 0, 48),
    "relu6": (lambda: _single(L.ReLU(max_value=6), (4, 4, 3)), 0, 2 * 48),
    "sigmoid": (lambda: _single(L.Activation("sigmoid"), (4, 4, 3)), 0, 4 * 48),
    "add": (_add_model, 0, 48),
    **{name: (lambda layer=layer: _single(layer, (4, 4, 3)), 0, 0) for name, layer in {
        "upsampling": L.UpSampling2D(), "zero padding": L.ZeroPadding2D(), "flatten": L.Flatten(),
        "reshape": L.Reshape((16, 3)), "dropout": L.Dropout(0.5),
        "identity": L.Identity()}.items()},
}


@pytest.mark.parametrize("case", FORMULA_CASES)
def test_layer_counts_follow_the_curriculum_formulas(case):
    build, macs, flops = FORMULA_CASES[case]
    report = analyze(build())
    assert (report.macs, report.flops) == (macs, flops)


def test_macs_equal_half_of_tensorflow_profiler_conv_and_matmul_ops():
    """Exact: the profiler counts each multiply-accumulate of Conv2D, DepthwiseConv2dNative,
    Conv2DBackpropInput (transposed conv) and MatMul as 2 float ops, and pooling as k² per
    output."""
    inputs = keras.Input((32, 32, 3))
    x = L.Conv2D(16, 3, strides=2, padding="same")(inputs)
    x = L.Conv2D(16, 3, padding="same", groups=4, dilation_rate=2, use_bias=False)(x)
    x = L.DepthwiseConv2D(5, strides=2, depth_multiplier=2)(x)
    x = L.MaxPooling2D(3, strides=1, padding="same")(x)
    x = L.SeparableConv2D(24, 3, padding="same")(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same")(x)
    x = L.AveragePooling2D(2)(x)
    outputs = L.Dense(10)(L.Flatten()(x))
    model = keras.Model(inputs, outputs)
    report, profiled = analyze(model), profile_model(model)
    assert set(profiled.by_op_type) >= {"Conv2D", "DepthwiseConv2dNative", "Conv2DBackpropInput"}
    assert 2 * report.macs == 2 * profiled.macs == sum(
        profiled.by_op_type[op] for op in ("Conv2D", "DepthwiseConv2dNative",
                                           "Conv2DBackpropInput", "MatMul"))
    pooling = sum(row.flops for row in report.layers if "Pooling" in row.layer_type)
    assert pooling == profiled.by_op_type["MaxPool"] + profiled.by_op_type["AvgPool"]


def test_grouped_conv2d_does_exactly_the_grouped_multiply_adds():
    """kerasdl's CPU grouped conv (depthwise + sum with 2 channels per group, split convs with 8)
    runs no more multiply-accumulates than the grouped-conv formula counts."""
    inputs = keras.Input((12, 12, 16))
    x = GroupedConv2D(16, 3, padding="same", groups=8, use_bias=False)(inputs)
    outputs = GroupedConv2D(32, 3, strides=2, padding="same", groups=2, use_bias=False)(x)
    model = keras.Model(inputs, outputs)
    report, profiled = analyze(model), profile_model(model)
    assert report.macs == 12 * 12 * 16 * 9 * 2 + 6 * 6 * 32 * 9 * 8
    assert 2 * report.macs == sum(profiled.by_op_type.get(op, 0)
                                  for op in ("Conv2D", "DepthwiseConv2dNative"))


@pytest.mark.parametrize("name", ["resnet50", "mobilenetv2"])
def test_full_models_against_tensorflow_profiler(applications, name):
    """MACs exactly; total FLOPs within 2%. The conventions differ only in small terms: the profiler
    counts no activations (ReLU/ReLU6 are 1/2 per element here), adds BiasAdd separately (here a
    bias is the n-th add of a dot product, and a bias-less one has n-1 adds), counts batch norm's
    per-channel rsqrt/mul/sub and Mean's final division. Measured: ResNet50 0.9998, MobileNetV2
    1.009 (its ReLU6 is most of the difference)."""
    model, report = applications[name]
    profiled = profile_model(model)
    assert report.macs == profiled.macs
    assert report.flops / profiled.total == pytest.approx(1.0, abs=0.02)


def test_published_complexity(applications):
    """ResNet-50 at 224²: about 4e9 multiply-adds (He et al. 2016: 3.8e9 for v1, which
    keras.applications builds; torchvision's v1.5, stride on the 3x3, is 4.1e9); MobileNetV2 1.0:
    300M multiply-adds (Sandler et al. 2018, table 4) and 3,504,872 trainable parameters (the
    torchvision model card; the paper rounds to 3.4M)."""
    resnet_macs = applications["resnet50"][1].macs
    assert 3.8e9 <= resnet_macs <= 4.2e9  # measured 3,857,973,248
    mobilenet = applications["mobilenetv2"][1]
    assert mobilenet.macs == pytest.approx(300e6, rel=0.01)  # measured 300,774,272
    assert mobilenet.trainable_params == 3_504_872


# --- receptive field and output size --------------------------------------------------------------

def _measured_field(model) -> tuple:
    """(rows, cols) extent of the input pixels that reach the centre output unit (channel 0): the
    nonzero support of its gradient, with every kernel set to ones and every bias to zero."""
    for weight in model.weights:
        weight.assign(np.ones(weight.shape) if "kernel" in weight.path else np.zeros(weight.shape))
    x = tf.ones((1, *model.input_shape[1:]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x)
        centre = y[0, y.shape[1] // 2, y.shape[2] // 2, 0]
    support = np.abs(tape.gradient(centre, x)[0].numpy()).sum(-1) > 0
    rows, cols = np.nonzero(support.any(1))[0], np.nonzero(support.any(0))[0]
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def _computed_field(model) -> tuple:
    return analyze(model).layers[-1].receptive_field.size


def _small_stack():
    """Strides, pooling, dilation and a 3x1 kernel; by hand: 3, 5 (j 2), 7 (j 4), 7+4·4=23,
    23+4·4=39, 39+2·4=47 (j 8), then rows 47+2·8=63, cols 47."""
    return keras.Sequential([
        keras.Input((96, 96, 1)), L.Conv2D(2, 3), L.Conv2D(2, 3, strides=2), L.AveragePooling2D(2),
        L.Conv2D(2, 3, dilation_rate=2), L.Conv2D(2, 5), L.DepthwiseConv2D(3, strides=2),
        L.Conv2D(1, (3, 1))])


def _deeper_stack():
    """A functional stack with a two-branch Add, 'same' padding, dilations 2 and 3, a depthwise and
    a separable conv, average pooling and a 1x5 kernel."""
    inputs = keras.Input((192, 192, 1))
    x = L.Conv2D(2, 3, padding="same")(inputs)
    x = L.Conv2D(2, 3, strides=2, padding="same")(x)
    x = L.Conv2D(2, 3, dilation_rate=2, padding="same")(x)
    x = L.AveragePooling2D(3, strides=2, padding="same")(x)
    a = L.Conv2D(2, 3, dilation_rate=3, padding="same")(x)
    a = L.Conv2D(2, 3, padding="same")(a)
    x = L.Add()([a, L.Conv2D(2, 1)(x)])
    x = L.Conv2D(2, 3, strides=2, padding="same")(x)
    x = L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(x)
    x = L.SeparableConv2D(2, 3, padding="same")(x)
    return keras.Model(inputs, L.Conv2D(1, (1, 5), padding="same")(x))


def test_receptive_field_equals_measured_gradient_support():
    small = _small_stack()
    assert _computed_field(small) == (63, 47) == _measured_field(small)
    deeper = _deeper_stack()
    assert _computed_field(deeper) == _measured_field(deeper) == (105, 137)


def _vgg_geometry(vgg, last: str):
    """VGG16's convs and pools up to ``last`` with one channel (max pools as average pools, whose
    gradient reaches every pixel of the window)."""
    layers = [keras.Input((224, 224, 1))]
    for layer in vgg.layers[1:]:
        config = {**layer.get_config(), "name": layer.name}
        if isinstance(layer, L.Conv2D):
            layers.append(L.Conv2D.from_config({**config, "filters": 1, "activation": None}))
        else:
            layers.append(L.AveragePooling2D.from_config(config))
        if layer.name == last:
            return keras.Sequential(layers)


def test_classical_receptive_fields(applications):
    """Stacked 3x3 convs see 5 and 7 pixels; VGG16 sees 196 at conv5_3 and 212 at pool5
    (212 is often quoted for conv5_3: it is pool5's), checked against the measured support too."""
    for depth, expected in ((2, 5), (3, 7)):
        convs = [L.Conv2D(1, 3) for _ in range(depth)]
        stack = keras.Sequential([keras.Input((32, 32, 1)), *convs])
        assert _computed_field(stack) == (expected, expected) == _measured_field(stack)
    vgg, report = applications["vgg16"]
    for name, size in (("block5_conv3", 196), ("block5_pool", 212)):
        field = report.layer(name).receptive_field
        assert field.size == (size, size) == _measured_field(_vgg_geometry(vgg, name))
        assert field.clipped == (size, size)  # smaller than the 224 input
    resnet = applications["resnet50"][1].layer("conv5_block3_out").receptive_field
    assert resnet.describe() == "483" and resnet.clipped == (224, 224)  # min(R, L)
    assert report.layer("predictions").receptive_field.describe() == "global"


@pytest.mark.parametrize("size, kernel, stride, padding, dilation", [
    (5, 3, 1, 0, 1), (224, 7, 2, 3, 1), (56, 3, 2, 1, 1), (17, 3, 1, 0, 2), (19, 5, 1, 1, 3),
    (30, 5, 3, 2, 1), (31, 3, 2, "same", 1), (28, 5, 1, "same", 3)])
def test_output_size_formula_matches_keras(size, kernel, stride, padding, dilation):
    """lo = floor((li + 2p - k_eff) / s) + 1 (curriculum 000); an int padding is a ZeroPadding2D."""
    inputs = keras.Input((size, size, 1))
    x = L.ZeroPadding2D(padding)(inputs) if isinstance(padding, int) else inputs
    x = L.Conv2D(1, kernel, stride, padding="valid" if isinstance(padding, int) else padding,
                 dilation_rate=dilation)(x)
    expected = conv_output_size(size, kernel, stride, padding, dilation)
    report = analyze(keras.Model(inputs, x))
    assert report.layers[-1].output_shape == (None, expected, expected, 1)


def test_table_and_atomic_json(tmp_path):
    report = analyze(_small_stack())
    path = report.save(tmp_path / "report.json")
    saved = json.loads(path.read_text())
    assert saved == json.loads(report.to_json())
    assert saved["totals"] == report.totals() and len(saved["layers"]) == len(report.layers)
    assert saved["layers"][-1]["receptive_field"] == {"size": [63, 47], "clipped": [63, 47],
                                                       "jump": [8, 8]}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left behind
    table = report.table()
    assert "depthwise_conv2d" in table and f"FLOPs {report.flops:,}" in table
