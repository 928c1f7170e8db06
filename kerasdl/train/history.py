"""Training history: per-epoch metrics, TensorBoard scalars, history.json and a curve PNG."""
from __future__ import annotations

from pathlib import Path

from kerasdl.io import atomic_write_bytes, atomic_write_json


class History:
    """Collects one dict of metrics per epoch; mirrors them to TensorBoard when ``log_dir`` is set."""

    def __init__(self, log_dir=None):
        self.epochs: list[dict] = []
        self.log_dir = Path(log_dir) if log_dir else None
        self._writer = None
        if self.log_dir:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(str(self.log_dir / "tensorboard"))

    def log(self, epoch: int, logs: dict) -> None:
        self.epochs.append({"epoch": epoch, **{k: float(v) for k, v in logs.items()}})
        if self._writer is not None:
            import tensorflow as tf

            with self._writer.as_default(step=epoch):
                for key, value in logs.items():
                    tf.summary.scalar(key, value)
            self._writer.flush()

    def load(self) -> None:
        """Read back ``history.json`` (used when training resumes)."""
        path = self.log_dir / "history.json" if self.log_dir else None
        if path and path.exists():
            import json

            self.epochs = json.loads(path.read_text())

    def truncate(self, epoch: int) -> None:
        """Forget epochs after ``epoch`` (used when training resumes from a checkpoint)."""
        self.epochs = [e for e in self.epochs if e["epoch"] <= epoch]

    def save(self) -> None:
        if self.log_dir and self.epochs:
            atomic_write_json(self.log_dir / "history.json", self.epochs)
            atomic_write_bytes(self.log_dir / "curves.png", plot_curves(self.epochs))


def plot_curves(epochs: list[dict]) -> bytes:
    """Loss and metric curves (train solid, eval dashed), one panel per metric, as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({k.removeprefix("val_") for e in epochs for k in e if k != "epoch"})
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    x = [e["epoch"] for e in epochs]
    for ax, name in zip(axes[0], names):
        for key, style in ((name, "-o"), (f"val_{name}", "--s")):
            ys = [e.get(key) for e in epochs]
            if any(v is not None for v in ys):
                ax.plot(x, [float("nan") if v is None else v for v in ys], style, label=key, ms=3)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
