"""Image grids as PNG: generated samples, reconstructions, per-class rows."""
from __future__ import annotations

import numpy as np

from kerasdl.io import atomic_write_bytes


def tile_images(images, columns: int | None = None, value_range=(0.0, 1.0), pad: int = 1):
    """Tile ``[N, H, W]`` or ``[N, H, W, C]`` images (values in ``value_range``) row-major into one
    uint8 array ``[rows·(H+pad)+pad, columns·(W+pad)+pad(, C)]``; missing cells stay black."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(f"expected a non-empty batch of [H, W, 1|3] images, got shape {images.shape}")
    low, high = value_range
    pixels = np.clip((images - low) / (high - low), 0.0, 1.0)
    n, h, w, c = pixels.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.zeros((rows * (h + pad) + pad, columns * (w + pad) + pad, c), np.float32)
    for i, image in enumerate(pixels):
        r, col = divmod(i, columns)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h,
             pad + col * (w + pad):pad + col * (w + pad) + w] = image
    grid = np.round(grid * 255).astype(np.uint8)
    return grid[..., 0] if c == 1 else grid


def save_image_grid(images, path, columns: int | None = None, value_range=(0.0, 1.0),
                    title: str | None = None, scale: int = 3):
    """Write ``tile_images(...)`` as a PNG (atomically), enlarged ``scale``× with an optional title."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = tile_images(images, columns, value_range)
    height, width = grid.shape[:2]
    fig = plt.figure(figsize=(scale * width / 100, scale * height / 100 + (0.3 if title else 0)))
    ax = fig.add_axes([0, 0, 1, height / (height + (30 if title else 0))])
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255,
              interpolation="nearest")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
