"""Model selection on a validation metric: train in blocks, validate after each, keep the best."""
from __future__ import annotations

import time
from collections.abc import Callable


def fit_keeping_best(trainer, data, *, epochs: int, every: int, validate: Callable[[], dict],
                     key: str, label: str = "") -> dict:
    """``trainer.fit`` ``every`` epochs at a time up to ``epochs`` (a shorter last block when
    ``every`` does not divide it); after each block
    ``validate()`` returns metrics, and the weights with the highest ``metrics[key]`` are put back
    in ``trainer.model`` at the end.

    Returns ``{"best_epoch", "best": metrics[key] there, "curve": [{"epoch", "loss", **metrics}],
    "train_seconds"}`` (validation time included).
    """
    if every < 1 or epochs < every:
        raise ValueError(f"need 1 <= every <= epochs, got every={every}, epochs={epochs}")
    model, curve, best = trainer.model, [], None
    start = time.perf_counter()
    ends = list(range(every, epochs + 1, every))
    for epoch in ends + ([epochs] if ends[-1] < epochs else []):
        trainer.fit(data, epochs=epoch, resume=epoch > every)
        metrics = validate()
        if key not in metrics:
            raise KeyError(f"validate() returned {sorted(metrics)}, without the key {key!r}")
        curve.append({"epoch": epoch, "loss": trainer.history.epochs[-1]["loss"], **metrics})
        print(f"  {label}epoch {epoch}: loss {curve[-1]['loss']:.4f} validation {key} "
              f"{metrics[key]:.4f}", flush=True)
        if best is None or metrics[key] > best[0]:
            best = (metrics[key], epoch, [w.copy() for w in model.get_weights()])
    model.set_weights(best[2])
    return {"best_epoch": best[1], "best": best[0], "curve": curve,
            "train_seconds": round(time.perf_counter() - start, 1)}
