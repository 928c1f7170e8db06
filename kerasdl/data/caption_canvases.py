"""Captioning canvases: rows of 2-3 real Fashion-MNIST (or MNIST-10k) objects with generated
descriptions.

The images are real objects; the captions are generated from the layout, not written by people.
Each canvas ``[height, width, 1]`` holds ``k`` (2 or 3) objects of the split, left to right in ``k``
equal slots, each at a random offset inside its slot (and +-2 px vertically). Its references (both
true) read the row from either end::

    "a shirt left of a sneaker"               "a sneaker right of a shirt"
    "a bag left of a coat left of a dress"    "a dress right of a coat right of a bag"

Train canvases draw objects from the source's train split, test canvases from its test split.
Tokens are words; ids: 0 padding, 1 ``<bos>``, 2 ``<eos>``, then :func:`vocabulary`'s words.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOURCES = {
    "fashion": ("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"),
    "digits": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
}
SPECIAL = ("<pad>", "<bos>", "<eos>")
PAD, BOS, EOS = 0, 1, 2


def vocabulary(source: str = "fashion") -> list[str]:
    """Id -> word: the special tokens, the relation words, then the class names."""
    return [*SPECIAL, "a", "left", "right", "of", *SOURCES[source]]


def describe(names) -> list[str]:
    """The two references of a left-to-right row of object names."""
    if len(names) < 2:
        raise ValueError(f"a row needs at least 2 objects, got {list(names)}")
    forward = " left of ".join(f"a {n}" for n in names)
    backward = " right of ".join(f"a {n}" for n in reversed(names))
    return [forward, backward]


def max_caption_length(max_objects: int = 3) -> int:
    """Tokens of the longest caption plus ``<eos>``: ``a X`` per object, ``left of`` between."""
    return 2 * max_objects + 2 * (max_objects - 1) + 1


@dataclass
class Canvases:
    images: np.ndarray  # [N, H, W, 1] float32 in [0, 1]
    references: list  # N lists of reference strings
    classes: list  # N lists of class ids, left to right
    vocabulary: list

    def __len__(self) -> int:
        return len(self.references)

    def encode(self, texts, length: int) -> np.ndarray:
        """Word ids ``[N, length]`` of ``texts`` followed by ``<eos>``, padded with 0."""
        index = {w: i for i, w in enumerate(self.vocabulary)}
        out = np.zeros((len(texts), length), np.int32)
        for row, text in enumerate(texts):
            ids = [index[w] for w in text.split()] + [EOS]
            if len(ids) > length:
                raise ValueError(f"caption {text!r} needs {len(ids)} tokens with <eos>, more than {length}")
            out[row, :len(ids)] = ids
        return out

    def decode(self, ids) -> list[str]:
        """Text of each id row (an array or lists of any lengths), up to ``<eos>``; padding and
        ``<bos>`` skipped."""
        out = []
        for row in (ids.tolist() if isinstance(ids, np.ndarray) else [list(r) for r in ids]):
            row = row[:row.index(EOS)] if EOS in row else row
            out.append(" ".join(self.vocabulary[i] for i in row if i > EOS))
        return out


def caption_canvases(split: str = "train", num_canvases: int = 1000, *, source: str = "fashion",
                     objects=(2, 3), height: int = 32, width: int = 96, seed: int = 0) -> Canvases:
    """``num_canvases`` canvases of ``objects[0]..objects[1]`` objects (see the module doc)."""
    from kerasdl.data.datasets import fashion_mnist, mnist10k

    if source not in SOURCES:
        raise ValueError(f"source must be one of {sorted(SOURCES)}, got {source!r}")
    if not 2 <= objects[0] <= objects[1]:
        raise ValueError(f"objects must be 2 <= min <= max, got {objects}")
    if height < 32 or width < 28 * objects[1]:
        raise ValueError(f"a {height}x{width} canvas cannot hold {objects[1]} 28x28 objects in a row "
                         f"(need height >= 32 and width >= {28 * objects[1]})")
    x, y = (fashion_mnist if source == "fashion" else mnist10k)(split, as_numpy=True)
    x = x.reshape(-1, 28, 28).astype(np.float32)
    x = x / 255.0 if x.max() > 1 else x
    rng = np.random.default_rng(seed)
    images = np.zeros((num_canvases, height, width, 1), np.float32)
    references, classes = [], []
    names = SOURCES[source]
    for row in range(num_canvases):
        k = int(rng.integers(objects[0], objects[1] + 1))
        picks = rng.integers(len(x), size=k)
        slot = width // k
        for j, i in enumerate(picks):
            left = j * slot + int(rng.integers(0, slot - 28 + 1))
            top = (height - 28) // 2 + int(rng.integers(-2, 3))
            top = min(max(top, 0), height - 28)
            region = images[row, top:top + 28, left:left + 28, 0]
            np.maximum(region, x[i], out=region)
        classes.append([int(y[i]) for i in picks])
        references.append(describe([names[c] for c in classes[-1]]))
    return Canvases(images, references, classes, vocabulary(source))
