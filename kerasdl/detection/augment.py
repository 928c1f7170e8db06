"""Box-aware augmentation with Keras' preprocessing layers and their bounding-box support:
``RandomTranslation``, ``RandomZoom`` (constant zero fill, so no reflected objects appear
outside their boxes) and optionally ``RandomFlip("horizontal")`` move the images and their
relative ``xyxy`` boxes together; Keras clips the boxes to the image, boxes that leave it are
dropped. Flips are off by default: a mirrored digit is not the same digit (nuclei are fine).
"""
from __future__ import annotations

import numpy as np


def box_augmenter(translate=0.1, zoom=0.15, flip=False, seed=0):
    """The Keras layers of one augmentation pass, in order."""
    import keras

    fmt = "rel_xyxy"
    layers = []
    if translate:
        layers.append(keras.layers.RandomTranslation(translate, translate, fill_mode="constant",
                                                     bounding_box_format=fmt, seed=seed))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="constant", bounding_box_format=fmt,
                                              seed=seed + 1))
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", bounding_box_format=fmt, seed=seed + 2))
    if not layers:
        raise ValueError("box_augmenter needs at least one of translate, zoom, flip")
    return layers


def augment_boxes(images, boxes_list, classes_list, *, translate=0.1, zoom=0.15, flip=False,
                  seed=0, batch_size=256, min_side=1e-3):
    """Augmented copies: (uint8 images like ``images`` [N, H, W, C], per-image boxes [n, 4],
    per-image classes [n]); boxes narrower or lower than ``min_side`` (relative) are dropped."""
    images = np.asarray(images)
    if images.ndim != 4 or len(images) != len(boxes_list) or len(images) != len(classes_list):
        raise ValueError(f"need images [N, H, W, C] with N box and class lists, got "
                         f"{images.shape}, {len(boxes_list)} and {len(classes_list)}")
    layers = box_augmenter(translate, zoom, flip, seed)
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    out_images, out_boxes, out_classes = [], [], []
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        width = max(1, max(len(np.reshape(b, (-1, 4))) for b in boxes_list[chunk]))
        boxes = np.zeros((len(images[chunk]), width, 4), "float32")
        labels = -np.ones((len(images[chunk]), width), "int32")
        for i, (b, c) in enumerate(zip(boxes_list[chunk], classes_list[chunk])):
            b = np.reshape(b, (-1, 4))
            boxes[i, :len(b)], labels[i, :len(b)] = b, np.reshape(c, -1)
        data = {"images": images[chunk].astype("float32") / scale,
                "bounding_boxes": {"boxes": boxes, "labels": labels}}
        for layer in layers:
            data = layer(data, training=True)
        new = np.asarray(data["images"]) * scale
        out_images.append(np.clip(np.round(new), 0, 255).astype(images.dtype) if scale > 1 else new)
        for b, c in zip(np.asarray(data["bounding_boxes"]["boxes"]),
                        np.asarray(data["bounding_boxes"]["labels"])):
            keep = (c >= 0) & np.all(b[:, 2:] - b[:, :2] >= min_side, 1)
            out_boxes.append(b[keep].astype("float32"))
            out_classes.append(c[keep].astype("int32"))
    return np.concatenate(out_images), out_boxes, out_classes
