#!/usr/bin/env python
"""CliffWalking: Q-learning learns the cliff-edge path, Sarsa the safe one (Sutton & Barto, Ex. 6.6).

Command:  python pipelines/cliff_walking.py                 (500 episodes x 10 seeds per method)
          python pipelines/cliff_walking.py --fast --out-dir /tmp/x   (CI smoke run)
Data:     gymnasium CliffWalking-v1 (4 x 12 grid, -1 per step, -100 and back to the start for
          stepping into the cliff; no time limit), simulated — RL has no dataset.
Recipe:   tabular Q-learning and Sarsa (kerasdl.rl.td_control), ε-greedy with ε = 0.1 throughout,
          α = 0.5, γ = 1, Q initialised to 0, ties broken at random; optional Sarsa(λ = 0.5).
Metrics:  mean undiscounted return per training episode (the ε-greedy behaviour, as in the book's
          figure), the greedy path after training and its length (optimal 13, along the cliff).
Hardware: 2-core AMD EPYC (AVX2), no GPU; NumPy only (no TensorFlow).
Last run: 2026-12-01, `python pipelines/cliff_walking.py --sarsa-lambda --docs` (500 episodes x
          10 seeds x 3 methods): 101 s wall on the shared machine (load ~10 on 2 cores).
          Greedy path after training — Q-learning: 13 steps along the cliff edge on all 10 seeds;
          Sarsa: the safe detour, 17 steps on 6 seeds, 19 on 2, and on 2 seeds a greedy policy
          that loops (α = 0.5 with constant ε keeps Sarsa's table moving); Sarsa(λ = 0.5): 17
          steps on 9 seeds, 1 loop. Mean return of the last 100 (ε-greedy) training episodes:
          Q-learning -49.5 (seeds -61.8 to -35.6: exploration near the edge falls off the
          cliff), Sarsa -26.2 (-33.5 to -23.0), Sarsa(λ) -25.0 (-32.4 to -19.7) — the book's
          picture: Q-learning learns the optimal path but earns less while exploring.
Output:   saved_models/cliff_walking/: results.json, returns.png (smoothed per-episode returns,
          mean and interquartile band over seeds), paths.png (each method's greedy path on the grid);
          --docs copies the two figures to docs/rl_cliff_walking_{returns,paths}.png.
"""
import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasdl.io import save_figure  # noqa: E402
from kerasdl.io import atomic_write_json  # noqa: E402

EPISODES, SEEDS, ALPHA, EPSILON = 500, 10, 0.5, 0.1
FAST = {"episodes": 100, "seeds": 2}
ROWS, COLS = 4, 12
START, GOAL = 36, 47


def learners(with_lambda):
    from kerasdl.rl import q_learning, sarsa, sarsa_lambda

    methods = {"Q-learning": q_learning, "Sarsa": sarsa}
    if with_lambda:
        methods["Sarsa(λ=0.5)"] = lambda env, n, **kw: sarsa_lambda(env, n, lam=0.5, **kw)
    return methods


def smooth(x, window=20):
    return np.convolve(x, np.ones(window) / window, mode="valid")


def plot_returns(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, runs in curves.items():
        smoothed = np.array([smooth(r) for r in runs])
        x = np.arange(len(smoothed[0])) + 20
        ax.plot(x, smoothed.mean(0), label=f"{name} (mean of {len(runs)} seeds)")
        low, high = np.percentile(smoothed, [25, 75], axis=0)
        ax.fill_between(x, low, high, alpha=0.2)
    ax.set_ylim(-120, 0)
    ax.set_xlabel("episode")
    ax.set_ylabel("return per episode (20-episode mean)")
    ax.set_title(f"CliffWalking, ε-greedy ε={EPSILON}, α={ALPHA} (band: seeds' 25-75%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    save_figure(fig, path)


def plot_paths(paths, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.add_patch(plt.Rectangle((0.5, 2.5), 10, 1, color="0.2"))
    ax.text(5.5, 3, "cliff (-100)", color="white", ha="center", va="center")
    for label, cell in (("S", START), ("G", GOAL)):
        ax.text(cell % COLS, cell // COLS, label, ha="center", va="center", fontsize=14,
                weight="bold")
    for (name, states), offset, colour in zip(paths.items(), (-0.12, 0.12, 0.0),
                                              ("tab:red", "tab:blue", "tab:green")):
        xs = [s % COLS for s in states]
        ys = [s // COLS + offset for s in states]
        ax.plot(xs, ys, "-o", color=colour, ms=4, label=f"{name}: {len(states) - 1} steps")
    ax.set_xlim(-0.5, COLS - 0.5)
    ax.set_ylim(ROWS - 0.5, -0.5)
    ax.set_xticks(range(COLS))
    ax.set_yticks(range(ROWS))
    ax.grid(alpha=0.3)
    ax.set_aspect("equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    ax.set_title("greedy paths after training (seed 0)")
    save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="100 episodes, 2 seeds (CI)")
    parser.add_argument("--episodes", type=int, default=EPISODES)
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--sarsa-lambda", action="store_true", help="also run Sarsa(λ = 0.5)")
    parser.add_argument("--docs", action="store_true", help="copy the figures to docs/")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.seeds < 1:
        parser.error("--episodes and --seeds must be >= 1")

    import gymnasium as gym

    from kerasdl.rl import greedy_rollout

    episodes, seeds = ((FAST["episodes"], FAST["seeds"]) if args.fast
                       else (args.episodes, args.seeds))
    out = Path(args.out_dir) / f"cliff_walking{'_fast' if args.fast else ''}"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    env = gym.make("CliffWalking-v1")
    curves, paths, results = {}, {}, {}
    for name, learn in learners(args.sarsa_lambda).items():
        runs, lengths = [], []
        for seed in range(seeds):
            run = learn(env, episodes, alpha=ALPHA, epsilon=EPSILON, gamma=1.0, seed=seed)
            states, greedy_return = greedy_rollout(env, run.q, max_steps=100)
            runs.append(run.returns)
            lengths.append(len(states) - 1 if states[-1] == GOAL else None)
            if seed == 0:
                paths[name] = states
        curves[name] = runs
        last = np.array([r[-100:] for r in runs])
        results[name] = {"greedy_path_seed0": paths[name],
                         "greedy_path_lengths": lengths,  # None: the greedy policy loops
                         "path_length_counts": dict(Counter(str(n) for n in lengths)),
                         "mean_return_last_100_episodes": float(last.mean()),
                         "seed_spread_last_100": [float(last.mean(1).min()),
                                                  float(last.mean(1).max())]}
        print(f"{name}: greedy path lengths {lengths}; mean return over the last 100 episodes "
              f"{last.mean():.1f}")
    plot_returns(curves, out / "returns.png")
    plot_paths(paths, out / "paths.png")
    summary = {"episodes": episodes, "seeds": seeds, "alpha": ALPHA, "epsilon": EPSILON,
               "methods": results, "wall_seconds": round(time.perf_counter() - start, 1)}
    atomic_write_json(out / "results.json", summary)
    if args.docs:
        docs = Path(__file__).resolve().parents[1] / "docs"
        for figure in ("returns", "paths"):
            shutil.copyfile(out / f"{figure}.png", docs / f"rl_cliff_walking_{figure}.png")
    print(f"wrote {out} in {summary['wall_seconds']} s")
    return summary


if __name__ == "__main__":
    main()
