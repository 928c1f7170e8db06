"""Detector building blocks over a kerasdl backbone: multi-scale features (and seeding them from a
pretrained classifier), SSD's extra levels, the FPN top-down neck, the SPP block, and the
per-level anchor head."""
from __future__ import annotations

import keras

from kerasdl.layers.blocks import conv_bn_act


def backbone_features(inputs, backbone: str, width: float, strides, small_input=False):
    """Feature maps of a registered ConvNet (``kerasdl.models.vision``) at ``strides``, low to
    high stride; the backbone is a nested model sharing nothing with other builds."""
    import kerasdl

    net = kerasdl.create_model(backbone, num_classes=1, input_shape=tuple(inputs.shape[1:]),
                               width=width, small_input=small_input)
    if not hasattr(net, "backbone"):
        raise ValueError(f"backbone {backbone!r} exposes no multi-scale feature maps")
    features = net.backbone(strides)(inputs)
    return [features[f"stride{s}"] for s in strides]


def nested_backbone(detector) -> keras.Model:
    """The backbone model ``backbone_features`` nested in ``detector`` (its name is uniquified)."""
    nested = [layer for layer in detector.layers
              if isinstance(layer, keras.Model) and layer.name.endswith("_backbone")]
    if len(nested) != 1:
        raise ValueError(f"{detector.name} has {len(nested)} nested backbone models, expected one")
    return nested[0]


def backbone_classifier(detector) -> keras.Model:
    """A fresh registered classifier shaped like ``detector``'s backbone (same backbone, width,
    input shape and classes), e.g. to pretrain it."""
    import kerasdl

    config = detector.hyperparameters
    return kerasdl.create_model(config["backbone"], num_classes=config["num_classes"],
                                input_shape=config["input_shape"], width=config["backbone_width"])


def copy_backbone_weights(detector, classifier) -> int:
    """Seed ``detector``'s backbone with a trained ``classifier``'s weights, layer by layer by
    name; returns how many layers were copied.

    ``classifier`` is the registered backbone built with the detector's width and input shape
    (``backbone_classifier``, e.g. pretrained on single-object images); its head is not used.
    """
    backbone = nested_backbone(detector)
    sources = {layer.name: layer for layer in classifier.layers}
    copied = 0
    for layer in backbone.layers:
        if not layer.weights:
            continue
        source = sources.get(layer.name)
        if source is None:
            raise ValueError(f"classifier {classifier.name!r} has no layer {layer.name!r}: build the "
                             f"detector's backbone ({backbone.name}) with the same width")
        shapes = [tuple(w.shape) for w in layer.weights], [tuple(w.shape) for w in source.weights]
        if shapes[0] != shapes[1]:
            raise ValueError(f"layer {layer.name!r}: detector weights {shapes[0]} vs classifier "
                             f"{shapes[1]}: build both with the same width and input channels")
        layer.set_weights(source.get_weights())
        copied += 1
    return copied


def extra_levels(x, levels: int, channels: int, name: str = "extra"):
    """SSD's extra feature layers: ``levels`` × (1×1 reduce, 3×3 stride-2 conv), each halving."""
    out = []
    for i in range(levels):
        x = conv_bn_act(x, channels // 2, 1, name=f"{name}{i}_reduce")
        x = conv_bn_act(x, channels, 3, 2, name=f"{name}{i}")
        out.append(x)
    return out


def fpn_neck(features, channels: int, name: str = "fpn"):
    """Feature Pyramid Network (Lin et al. 2017): 1×1 lateral convs, a top-down pathway of
    nearest 2× upsampling + addition, a 3×3 conv on each merged map; same levels out."""
    laterals = [keras.layers.Conv2D(channels, 1, name=f"{name}_lateral{i}")(f)
                for i, f in enumerate(features)]
    merged = [laterals[-1]]
    for i in range(len(features) - 2, -1, -1):
        up = keras.layers.UpSampling2D(2, name=f"{name}_up{i}")(merged[0])
        if up.shape[1] != laterals[i].shape[1] or up.shape[2] != laterals[i].shape[2]:
            raise ValueError(f"FPN levels {i} and {i + 1} are not 2x apart: "
                             f"{laterals[i].shape[1:3]} vs {merged[0].shape[1:3]}")
        merged.insert(0, keras.layers.Add(name=f"{name}_merge{i}")([laterals[i], up]))
    return [keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_out{i}")(m)
            for i, m in enumerate(merged)]


def spp_block(x, pool_sizes=(5, 9, 13), name: str = "spp"):
    """Spatial pyramid pooling as YOLOv3-SPP uses it (He et al. 2015's idea, stride-1 form): the
    input concatenated with its same-padded max-pools of each size, then a 1×1 conv back."""
    pools = [keras.layers.MaxPooling2D(k, 1, padding="same", name=f"{name}_pool{k}")(x)
             for k in pool_sizes]
    x = keras.layers.Concatenate(name=f"{name}_concat")([x, *pools])
    return conv_bn_act(x, x.shape[-1] // (len(pool_sizes) + 1), 1, name=f"{name}_fuse")


def anchor_head(features, anchors_per_pixel: int, outputs_per_anchor: int, channels: int,
                name: str = "head"):
    """A 3×3 conv-BN-ReLU and a 3×3 prediction conv per level, reshaped to
    ``[B, h·w·k, outputs_per_anchor]`` and concatenated over levels (float32) — the anchor order
    of ``kerasdl.detection.anchors.level_anchors``."""
    outs = []
    for i, f in enumerate(features):
        x = conv_bn_act(f, channels, 3, name=f"{name}{i}_hidden")
        x = keras.layers.Conv2D(anchors_per_pixel * outputs_per_anchor, 3, padding="same",
                                name=f"{name}{i}_predict")(x)
        outs.append(keras.layers.Reshape((-1, outputs_per_anchor), name=f"{name}{i}_anchors")(x))
    if len(outs) == 1:
        return keras.layers.Activation("linear", dtype="float32", name="predictions")(outs[0])
    return keras.layers.Concatenate(axis=1, dtype="float32", name="predictions")(outs)
