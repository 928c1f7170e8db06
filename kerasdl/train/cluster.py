"""Local clusters for distributed training: one process per task, TF_CONFIG on loopback ports.

:func:`run_local_cluster` starts a ``kerasdl`` command as a cluster and waits:

- ``MultiWorkerMirroredStrategy`` (``parameter_servers=0``): ``workers`` copies of the command,
  synchronous all-reduce; worker 0 is the chief.
- ``ParameterServerStrategy`` (``parameter_servers >= 1``): the command runs once, as the chief
  (coordinator); ``workers`` worker and ``parameter_servers`` PS processes only serve
  (:func:`serve`), the PS holding the variables, the workers running scheduled steps.

When a process dies (a crash, SIGKILL, an out-of-memory kill) the others would block, so it stops
them all and, while restarts remain, starts the whole cluster again with ``--resume`` on fresh
ports: training restores the chief's last checkpoint (Keras' BackupAndRestore semantics; see
:meth:`kerasdl.train.Trainer.fit`). The chief prints to this terminal; every other process logs to
``<log_dir>/<job><i>.log``. ``<log_dir>/cluster.json`` names the live processes.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kerasdl.io import atomic_write_json


class ClusterError(RuntimeError):
    """A process of the cluster failed more often than the restarts allowed."""


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports free on the loopback interface right now."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def cluster_tasks(workers: int, parameter_servers: int = 0) -> list[tuple[str, int]]:
    """The (job, index) of every process, the chief first."""
    if parameter_servers:
        return [("chief", 0), *(("worker", i) for i in range(workers)),
                *(("ps", i) for i in range(parameter_servers))]
    return [("worker", i) for i in range(workers)]


def tf_config(tasks: list[tuple[str, int]], ports: list[int], task: tuple[str, int]) -> str:
    """The ``TF_CONFIG`` of ``task`` in a cluster of loopback ``tasks`` listening on ``ports``."""
    cluster: dict[str, list[str]] = {}
    for (job, _), port in zip(tasks, ports):
        cluster.setdefault(job, []).append(f"localhost:{port}")
    return json.dumps({"cluster": cluster, "task": {"type": task[0], "index": task[1]}})


def serve() -> None:
    """Run this process's ``TF_CONFIG`` task as a plain server (a PS or a PS-strategy worker)."""
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    server = tf.distribute.Server(resolver.cluster_spec(), job_name=resolver.task_type,
                                  task_index=resolver.task_id, protocol=resolver.rpc_layer or "grpc",
                                  start=True)
    server.join()


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
    for p in procs:
        p.wait()


def _start(command, tasks, log_dir, resume):
    ports = free_ports(len(tasks))
    procs = []
    for position, task in enumerate(tasks):
        env = {**os.environ, "TF_CONFIG": tf_config(tasks, ports, task)}
        trains = position == 0 or task[0] == "worker" and tasks[0][0] == "worker"
        args = [*command, *(["--resume"] if resume else [])] if trains else \
            [sys.executable, "-m", "kerasdl.train.cluster"]
        out = None if position == 0 else open(log_dir / f"{task[0]}{task[1]}.log", "ab")
        procs.append(subprocess.Popen(args, env=env, stdout=out,
                                      stderr=subprocess.STDOUT if out else None))
        if out:
            out.close()  # the child holds its own descriptor
    return procs


def run_local_cluster(argv: list[str], workers: int, *, log_dir, parameter_servers: int = 0,
                      max_restarts: int = 0, poll_seconds: float = 0.2) -> int:
    """Run ``kerasdl <argv>`` (a command taking ``--resume``) as a local cluster (see the module).

    Returns the number of restarts it took; raises :class:`ClusterError` naming the failed
    process (and its log) once ``max_restarts`` are used up.
    """
    if workers < (1 if parameter_servers else 2):
        raise ValueError(f"a cluster needs at least {1 if parameter_servers else 2} worker(s), "
                         f"got {workers}")
    if parameter_servers < 0 or max_restarts < 0:
        raise ValueError(f"parameter_servers and max_restarts must be >= 0, got "
                         f"{parameter_servers} and {max_restarts}")
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    tasks = cluster_tasks(workers, parameter_servers)
    trainers = 1 if parameter_servers else workers  # the rest serve until stopped
    command = [sys.executable, "-m", "kerasdl.cli", *argv]
    for attempt in range(max_restarts + 1):
        procs = _start(command, tasks, log_dir, resume=attempt > 0)
        atomic_write_json(log_dir / "cluster.json", {
            "attempt": attempt, "tasks": [f"{job}{i}" for job, i in tasks],
            "pids": [p.pid for p in procs]})
        while True:
            codes = [p.poll() for p in procs]
            failed = next((i for i, code in enumerate(codes) if code not in (None, 0)), None)
            if failed is not None or all(code == 0 for code in codes[:trainers]):
                break
            time.sleep(poll_seconds)
        _stop(procs)
        if failed is None:
            return attempt
        job, index = tasks[failed]
        where = "this terminal" if failed == 0 else log_dir / f"{job}{index}.log"
        print(f"kerasdl: {job} {index} exited with {procs[failed].returncode} (output: {where}); "
              + (f"restarting the cluster from the last checkpoint ({attempt + 1}/{max_restarts})"
                 if attempt < max_restarts else "no restarts left"), file=sys.stderr)
    raise ClusterError(f"{job} {index} failed after {max_restarts} restart(s); see {where}")


if __name__ == "__main__":
    serve()
