"""Neural style transfer (Gatys, Ecker & Bethge 2016): optimise the pixels of an image so that its
deep features match a content image's and its feature *correlations* (Gram matrices) match a style
image's, with a total-variation penalty for smoothness.

    L(x) = content_weight * sum_l mean((F_l(x) - F_l(c))^2)            (content layers l)
         + style_weight   * sum_l mean((G_l(x) - G_l(s))^2)            (style layers l)
         + tv_weight      * TV(x) / (H * W)
    G_l = F_l^T F_l / (H_l W_l)   (C_l x C_l: which channels fire together, position-free)

The feature network is any ``keras.Model`` with named layers: a Keras VGG19 with ImageNet
weights where they can be downloaded (``keras.applications.VGG19(include_top=False)``, layer
names ``block1_conv1`` ...), or a VGG trained by kerasdl (pipelines/style_transfer.py).
"""
from __future__ import annotations

import keras
import tensorflow as tf


def gram_matrix(features):
    """``[B, H, W, C]`` feature maps -> ``[B, C, C]`` Gram matrices, averaged over positions."""
    features = tf.convert_to_tensor(features)
    if features.shape.rank != 4:
        raise ValueError(f"gram_matrix expects [batch, height, width, channels], got shape "
                         f"{features.shape}")
    features = tf.cast(features, tf.float32)
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return tf.einsum("bhwc,bhwd->bcd", features, features) / positions


def total_variation_loss(images):
    """Mean over the batch of ``tf.image.total_variation`` (sum of absolute differences of
    vertically and horizontally neighbouring pixels) divided by the pixel count H * W."""
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"total_variation_loss expects [batch, height, width, channels], got "
                         f"shape {images.shape}")
    pixels = tf.cast(tf.shape(images)[1] * tf.shape(images)[2], tf.float32)
    return tf.reduce_mean(tf.image.total_variation(images)) / pixels


def feature_model(extractor: keras.Model, layer_names) -> keras.Model:
    """``extractor``'s input -> the outputs of ``layer_names`` (a list, in order)."""
    known = {layer.name for layer in extractor.layers}
    missing = [n for n in layer_names if n not in known]
    if missing:
        raise ValueError(f"{extractor.name} has no layers {missing}; e.g. "
                         f"{[layer.name for layer in extractor.layers][1:6]}")
    outputs = [extractor.get_layer(n).output for n in layer_names]
    model = keras.Model(extractor.input, outputs, name=f"{extractor.name}_features")
    model.trainable = False
    return model


class StyleTransfer:
    """Gatys style transfer over a frozen ``feature_extractor`` (see the module docstring).

    ``preprocess`` maps images in [0, 1] to what the extractor expects (e.g.
    ``keras.applications.vgg19.preprocess_input(255 * x)`` for Keras' VGG19).
    """

    def __init__(self, feature_extractor: keras.Model, content_layers, style_layers, *,
                 content_weight=1.0, style_weight=1e2, tv_weight=1e-1, preprocess=None):
        if not content_layers or not style_layers:
            raise ValueError("need at least one content layer and one style layer")
        self.content_layers, self.style_layers = list(content_layers), list(style_layers)
        self.features = feature_model(feature_extractor, self.content_layers + self.style_layers)
        self.weights = {"content": float(content_weight), "style": float(style_weight),
                        "tv": float(tv_weight)}
        self.preprocess = preprocess or (lambda x: x)

    def _split(self, images):
        outputs = self.features(self.preprocess(images), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        n = len(self.content_layers)
        return [tf.cast(o, tf.float32) for o in outputs[:n]], \
            [gram_matrix(o) for o in outputs[n:]]

    def targets(self, content, style):
        """(content features of ``content``, Gram matrices of ``style``)."""
        return self._split(content)[0], self._split(style)[1]

    def losses(self, image, targets) -> dict:
        content_target, style_target = targets
        content, style = self._split(image)
        parts = {
            "content": tf.add_n([tf.reduce_mean(tf.square(a - b))
                                 for a, b in zip(content, content_target)]),
            "style": tf.add_n([tf.reduce_mean(tf.square(a - b))
                               for a, b in zip(style, style_target)]),
            "tv": total_variation_loss(image),
        }
        parts["total"] = tf.add_n([self.weights[k] * parts[k] for k in ("content", "style", "tv")])
        return parts

    def transfer(self, content, style, *, steps=300, optimizer=None, init=None, log_every=0):
        """Optimise an image (initialised at ``content`` unless ``init``) for ``steps`` steps of
        ``optimizer`` (default Adam 0.02), pixels clipped to [0, 1]. ``content`` and ``style``
        are ``[1, H, W, 3]`` float arrays in [0, 1] (sizes may differ). Returns
        ``(image [1, H, W, 3] numpy, history: list of loss dicts)``."""
        for label, array in (("content", content), ("style", style)):
            shape = tuple(tf.convert_to_tensor(array).shape)
            if len(shape) != 4 or shape[0] != 1:
                raise ValueError(f"{label} must be one image [1, H, W, C], got shape {shape}")
        targets = self.targets(tf.cast(content, tf.float32), tf.cast(style, tf.float32))
        image = tf.Variable(tf.cast(content if init is None else init, tf.float32))
        optimizer = optimizer or keras.optimizers.Adam(0.02)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                parts = self.losses(image, targets)
            optimizer.apply_gradients([(tape.gradient(parts["total"], image), image)])
            image.assign(tf.clip_by_value(image, 0.0, 1.0))
            return parts

        history = []
        for i in range(int(steps)):
            parts = {k: float(v) for k, v in step().items()}
            if log_every and (i % log_every == 0 or i == steps - 1):
                history.append({"step": i, **parts})
        return image.numpy(), history
