"""Write a matplotlib figure as a PNG, atomically, and close it."""
from __future__ import annotations

from kerasdl.io import atomic_path


def save_figure(fig, path, dpi: int = 110) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
