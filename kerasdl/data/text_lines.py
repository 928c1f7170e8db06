"""Text-line images for OCR: rendered Jane Austen lines and strings of real MNIST digits.

Both give :class:`TextLines`: ``images [N, H, W, 1]`` float32 in [0, 1] (ink = 1, background 0,
text left-aligned, right-padded with background), ``labels [N, L]`` int32 character ids
``1..len(charset)`` right-padded with 0 — id 0 is the CTC blank, as in ``keras.losses.CTC`` — and the
``texts``.

- :func:`austen_lines` renders lines of real text, not photographs. Protocol: the words of
  ``kerasdl.data.text.austen(split)`` (each novel cut 90/5/5 in order, so test lines come from the
  last 5% of every novel and are never seen in training) are packed greedily into lines of at most
  ``max_chars`` characters; lines with a character outside :data:`AUSTEN_CHARSET` are dropped. Each
  line is drawn with PIL in one of the DejaVu fonts bundled with matplotlib (:data:`FONTS`: Sans,
  Serif, Sans Mono, Sans Oblique — present on every machine with matplotlib), a random point size in
  ``font_sizes`` and a small random vertical offset, then squeezed horizontally if wider than ``width``.
- :func:`digit_strings` composes real handwritten digits from ``kerasdl.data.datasets.mnist10k``
  (train strings from its train split, test strings from its disjoint test split): 28x28 digits
  side by side with a random gap of ``gaps`` pixels (negative: overlap, ink combined by max),
  vertically centred in ``height`` pixels.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

AUSTEN_CHARSET = string.ascii_letters + string.digits + " .,;:!?'\"-()&"
DIGIT_CHARSET = string.digits
FONTS = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Oblique.ttf")


@dataclass
class TextLines:
    images: np.ndarray  # [N, H, W, 1] float32
    labels: np.ndarray  # [N, L] int32, 0 = padding / CTC blank
    texts: list
    charset: str

    def __len__(self) -> int:
        return len(self.texts)


def encode(texts, charset: str, max_length: int) -> np.ndarray:
    """Character ids ``[N, max_length]`` (``charset[i]`` -> ``i + 1``, padding 0)."""
    index = {c: i + 1 for i, c in enumerate(charset)}
    ids = np.zeros((len(texts), max_length), np.int32)
    for row, text in enumerate(texts):
        if len(text) > max_length:
            raise ValueError(f"text {text!r} has {len(text)} characters, more than max_length={max_length}")
        unknown = sorted(set(text) - set(index))
        if unknown:
            raise ValueError(f"text {text!r} has characters outside the charset: {unknown}")
        ids[row, :len(text)] = [index[c] for c in text]
    return ids


def decode(ids, charset: str) -> list[str]:
    """Strings from id rows; ids outside ``1..len(charset)`` (padding, blank, -1) are skipped."""
    return ["".join(charset[i - 1] for i in row if 1 <= i <= len(charset)) for row in np.asarray(ids).tolist()]


def font_path(name: str) -> Path:
    """A font file bundled with matplotlib (``mpl-data/fonts/ttf``)."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    if not path.exists():
        raise FileNotFoundError(f"font {name!r} not found in {path.parent}")
    return path


def pack_words(text: str, max_chars: int) -> list[str]:
    """Greedy word wrap of ``text`` (whitespace collapsed) into lines of at most ``max_chars``
    characters; a longer single word is dropped."""
    lines, current = [], ""
    for word in text.split():
        if len(word) > max_chars:
            continue
        if current and len(current) + 1 + len(word) > max_chars:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return lines + ([current] if current else [])


def render_line(text: str, font, height: int, width: int, offset: int = 0) -> np.ndarray:
    """``text`` drawn in a PIL ``font``, ink 1 on 0, ``[height, width]`` float32, left-aligned with a
    2-pixel margin; squeezed horizontally (bilinear) when wider than ``width``."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (max(right - left + 4, 1), height), 0)
    y = (height - (bottom - top)) // 2 - top + offset
    ImageDraw.Draw(canvas).text((2 - left, y), text, fill=255, font=font)
    if canvas.width > width:
        canvas = canvas.resize((width, height), Image.BILINEAR)
    out = np.zeros((height, width), np.float32)
    out[:, :canvas.width] = np.asarray(canvas, np.float32) / 255.0
    return out


def austen_lines(split: str = "train", num_lines: int | None = None, *, max_chars: int = 28,
                 height: int = 32, width: int = 256, font_sizes=(15, 19), fonts=FONTS,
                 seed: int = 0) -> TextLines:
    """``num_lines`` (default all) rendered Austen lines of ``split``, drawn in a seeded random
    order (see the module doc for the protocol)."""
    from PIL import ImageFont

    from kerasdl.data.text import austen

    if not fonts:
        raise ValueError("fonts must name at least one font file")
    allowed = set(AUSTEN_CHARSET)
    lines = [line for line in pack_words(austen(split), max_chars) if set(line) <= allowed]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lines))[:num_lines]
    if len(order) == 0:
        raise ValueError(f"no Austen lines for split {split!r} (num_lines={num_lines})")
    texts = [lines[i] for i in order]
    cache = {}
    images = np.zeros((len(texts), height, width, 1), np.float32)
    for row, text in enumerate(texts):
        key = (fonts[rng.integers(len(fonts))], int(rng.integers(font_sizes[0], font_sizes[1] + 1)))
        if key not in cache:
            cache[key] = ImageFont.truetype(str(font_path(key[0])), key[1])
        images[row, ..., 0] = render_line(text, cache[key], height, width, int(rng.integers(-2, 3)))
    return TextLines(images, encode(texts, AUSTEN_CHARSET, max_chars), texts, AUSTEN_CHARSET)


def digit_strings(split: str = "train", num_strings: int = 1000, *, lengths=(3, 6), height: int = 32,
                  width: int = 192, gaps=(-4, 4), seed: int = 0) -> TextLines:
    """``num_strings`` strings of ``lengths[0]..lengths[1]`` real MNIST-10k digits of ``split``."""
    from kerasdl.data.datasets import mnist10k

    if not 1 <= lengths[0] <= lengths[1]:
        raise ValueError(f"lengths must be 1 <= min <= max, got {lengths}")
    if 28 * lengths[1] + gaps[1] * (lengths[1] - 1) + 4 > width:
        raise ValueError(f"width {width} cannot hold {lengths[1]} digits with gaps up to {gaps[1]}")
    if height < 28:
        raise ValueError(f"height must be >= 28 (MNIST digits are 28x28), got {height}")
    digits, labels = mnist10k(split, as_numpy=True)
    digits = digits.reshape(-1, 28, 28).astype(np.float32)
    digits = digits / max(float(digits.max()), 1.0) if digits.max() > 1 else digits
    rng = np.random.default_rng(seed)
    images = np.zeros((num_strings, height, width, 1), np.float32)
    texts, top = [], (height - 28) // 2
    for row in range(num_strings):
        picks = rng.integers(len(digits), size=int(rng.integers(lengths[0], lengths[1] + 1)))
        x = 2
        for k, i in enumerate(picks):
            x += int(rng.integers(gaps[0], gaps[1] + 1)) if k else 0
            region = images[row, top:top + 28, x:x + 28, 0]
            np.maximum(region, digits[i], out=region)
            x += 28
        texts.append("".join(str(int(labels[i])) for i in picks))
    return TextLines(images, encode(texts, DIGIT_CHARSET, lengths[1]), texts, DIGIT_CHARSET)


def compose_page(lines: TextLines, gap: int = 6) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Stack the line images into one page ``[N·(H + gap) + gap, W]`` with ``gap`` blank rows
    between lines; returns the page and each line's true ``(top, bottom)`` rows."""
    height, width = lines.images.shape[1:3]
    page = np.zeros((len(lines) * (height + gap) + gap, width), np.float32)
    boxes = []
    for i, image in enumerate(lines.images):
        top = gap + i * (height + gap)
        page[top:top + height] = image[..., 0]
        boxes.append((top, top + height))
    return page, boxes


def segment_lines(page: np.ndarray, height: int, threshold: float = 0.5) -> list[tuple[int, int]]:
    """Text-line detection by horizontal projection profile (no learning): rows whose summed ink
    exceeds ``threshold`` form runs; each run is centred in a ``height``-row window (clipped to the
    page). Assumes lines separated by at least one blank row."""
    page = np.asarray(page, np.float32)
    if page.ndim != 2:
        raise ValueError(f"page must be a 2-D [rows, columns] array, got shape {page.shape}")
    inked = np.concatenate([[False], page.sum(1) > threshold, [False]])
    starts, stops = np.flatnonzero(~inked[:-1] & inked[1:]), np.flatnonzero(inked[:-1] & ~inked[1:])
    boxes = []
    for a, b in zip(starts, stops):
        top = int(np.clip((a + b) // 2 - height // 2, 0, max(len(page) - height, 0)))
        boxes.append((top, top + height))
    return boxes
