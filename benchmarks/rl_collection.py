#!/usr/bin/env python
"""DQN experience collection on CartPole: environment steps per second for 1-32 vector envs, with
the Q-network called eagerly or through a compiled tf.function (the agent's way).

The Python loop (env.step + one Q evaluation per vector step) dominates DQN's wall time on CartPole;
a vector env amortises the Q evaluation over ``num_envs`` observations.
    python benchmarks/rl_collection.py [--steps 2048]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2048, help="transitions per measurement")
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 4, 8, 32])
    args = parser.parse_args(argv)

    from kerasdl.rl.dqn import DQNAgent

    print("| envs | Q call | env steps/s | ms per vector step |\n|---|---|---|---|")
    for num_envs in args.envs:
        agent = DQNAgent(num_envs=num_envs, buffer_size=4 * args.steps, verbose=0)
        for label, q in (("tf.function", agent._q),
                         ("eager", lambda x, m=agent.model: m(x, training=False))):
            agent._q = q
            agent.collect(num_envs * 8, epsilon=0.05)  # warm-up (traces the tf.function)
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                agent.collect(args.steps, epsilon=0.05)
                best = min(best, time.perf_counter() - start)
            per_vector_step = 1000 * best / (args.steps / num_envs)
            print(f"| {num_envs} | {label} | {args.steps / best:,.0f} | {per_vector_step:.2f} |")
        agent.close()


if __name__ == "__main__":
    main()
