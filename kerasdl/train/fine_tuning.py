"""Transfer learning: reuse a trained network's features on a new task.

Two moves (Yosinski et al. 2014; the curriculum's 迁移学习 / fine-tuning notes): **replace the
head** — keep the network up to its pooled features and put a new, randomly initialised
classifier on top for the new classes — and **freeze the lower layers**, whose generic features
(edges, strokes, textures) transfer, while the upper ones adapt, usually with a smaller learning
rate than training from scratch.

Frozen layers follow Keras' rule: ``trainable = False`` also runs BatchNormalization in inference
mode (its moving statistics stay the pre-trained ones), which is what fine-tuning needs.
"""
from __future__ import annotations

import keras


def replace_head(model: keras.Model, num_classes: int, *, features: str = "pool",
                 dropout: float = 0.0, name: str | None = None) -> keras.Model:
    """A model sharing ``model``'s layers from its input to layer ``features`` (default the
    global pool of every kerasdl ConvNet), then a new float32 ``Dense(num_classes)`` named
    ``logits``. The shared layers are the same objects: training the result trains them."""
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    names = [layer.name for layer in model.layers]
    if features not in names:
        raise ValueError(f"{model.name} has no layer {features!r} to cut at; its layers end with "
                         f"{names[-5:]}")
    x = model.get_layer(features).output
    if len(x.shape) != 2:
        raise ValueError(f"layer {features!r} outputs shape {tuple(x.shape)}; the new head needs "
                         "pooled [batch, features] vectors (cut at a pooling layer)")
    if dropout:
        x = keras.layers.Dropout(dropout, name="new_head_dropout")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(model.input, logits, name=name or f"{model.name}_new_head")


def freeze_lower_layers(model: keras.Model, *, until: str | None = None,
                        count: int | None = None) -> list[str]:
    """Freeze the layers before layer ``until`` (by name: everything earlier in the graph's
    topological order), or the first ``count`` layers; the rest become trainable. Returns the
    frozen layers' names. Exactly one of ``until`` / ``count`` is given."""
    if (until is None) == (count is None):
        raise ValueError("give exactly one of until= (a layer name) or count= (a number of layers)")
    layers = model.layers
    if until is not None:
        names = [layer.name for layer in layers]
        if until not in names:
            raise ValueError(f"{model.name} has no layer {until!r}")
        count = names.index(until)
    if not 0 <= count <= len(layers):
        raise ValueError(f"count must be in [0, {len(layers)}], got {count}")
    for i, layer in enumerate(layers):
        layer.trainable = i >= count
    return [layer.name for layer in layers[:count] if layer.weights]


def first_layer_with_prefix(model: keras.Model, prefix: str) -> str:
    """The name of the first layer whose name starts with ``prefix`` (e.g. ``"block3"``): the
    boundary to pass as ``freeze_lower_layers(until=...)``."""
    for layer in model.layers:
        if layer.name.startswith(prefix):
            return layer.name
    raise ValueError(f"{model.name} has no layer named {prefix}*")
