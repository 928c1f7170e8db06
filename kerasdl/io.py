"""Atomic writes: write beside the target under a temporary name, then ``os.replace`` it into place,
so a crash never leaves a half-written file or folder where a complete one is expected."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target):
    """Yield a temporary path beside ``target`` (same suffix); it replaces ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.tmp{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_json(obj) -> str:
    """Indented JSON; numpy scalars/arrays and paths are converted."""
    return json.dumps(obj, indent=2, default=_jsonable) + "\n"


def atomic_write_json(path, obj) -> Path:
    return atomic_write_text(path, to_json(obj))


def save_figure(fig, path, dpi=120) -> Path:
    """Write a matplotlib figure as PNG atomically (tight bounding box) and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def atomic_replace_dir(build, target) -> Path:
    """Run ``build(tmp_dir)`` to fill a fresh folder beside ``target``, then swap it in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    try:
        build(tmp)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target
