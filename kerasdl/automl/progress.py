"""Search progress: the best objective so far against evaluations and wall time, and its plot."""
from __future__ import annotations

import itertools

from kerasdl.io import save_figure


def best_so_far(scores, seconds, direction: str = "max", unit: str = "trial") -> dict:
    """Running best of ``scores`` (one per evaluation, in order), with cumulative ``seconds``.

    Returns ``{"x": [1..n], "unit": unit, "score": scores, "best": running best,
    "seconds": cumulative wall seconds}`` — the curve :func:`plot_search_progress` draws.
    """
    scores, seconds = [float(s) for s in scores], [float(s) for s in seconds]
    if len(scores) != len(seconds):
        raise ValueError(f"{len(scores)} scores but {len(seconds)} durations")
    if direction not in ("max", "min"):
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}")
    pick = max if direction == "max" else min
    return {"x": list(range(1, len(scores) + 1)), "unit": unit, "score": scores,
            "best": list(itertools.accumulate(scores, pick)),
            "seconds": list(itertools.accumulate(seconds))}


def plot_search_progress(curves: dict, path, *, objective: str, title: str = ""):
    """Two panels — best ``objective`` so far vs evaluations, and vs wall time — for each curve
    of ``curves`` (``{label: best_so_far(...)}``); each evaluation's own score is a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not curves or not all(c["x"] for c in curves.values()):
        raise ValueError("nothing to plot: every curve needs at least one evaluation")
    fig, (by_count, by_time) = plt.subplots(1, 2, figsize=(10, 3.8))
    units = sorted({c["unit"] for c in curves.values()})
    for label, c in curves.items():
        line, = by_count.step(c["x"], c["best"], where="post", label=f"{label} (best so far)")
        by_count.scatter(c["x"], c["score"], s=12, alpha=0.5, color=line.get_color())
        by_time.step(c["seconds"], c["best"], where="post", color=line.get_color(), label=label)
        by_time.scatter(c["seconds"], c["score"], s=12, alpha=0.5, color=line.get_color())
    by_count.set_xlabel(" / ".join(units))
    by_time.set_xlabel("wall time (s)")
    for ax in (by_count, by_time):
        ax.set_ylabel(objective)
        ax.grid(alpha=0.3)
    by_count.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
