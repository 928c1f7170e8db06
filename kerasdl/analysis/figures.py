"""Matplotlib figures as PNG files: a headless pyplot and an atomic PNG write."""
from __future__ import annotations

import io


def pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path, dpi: int = 110):
    """Write ``fig`` as a PNG (atomically, :mod:`kerasdl.io`) and close it; returns the path."""
    from kerasdl.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
    return atomic_write_bytes(path, buf.getvalue())
