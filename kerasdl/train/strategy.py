"""Resolve ``tf.distribute`` strategies by name, split the CPU into logical devices, and tell a
multi-worker process its role."""
from __future__ import annotations

import dataclasses

import tensorflow as tf


def split_cpu(n: int) -> None:
    """Expose ``n`` logical CPU devices (for MirroredStrategy on one CPU). Call before TF starts."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as err:  # runtime already initialised
        if len(tf.config.list_logical_devices("CPU")) != n:
            raise RuntimeError(f"split_cpu({n}) must run before TensorFlow initialises: {err}") from err


def resolve_strategy(strategy=None) -> tf.distribute.Strategy:
    """``None``/"default" -> the default strategy; "mirrored" -> all local GPUs, else all logical CPUs;
    "multi_worker" -> MultiWorkerMirroredStrategy, "parameter_server" -> ParameterServerStrategy
    (both read TF_CONFIG; see kerasdl.train.cluster); "tpu" -> TPUStrategy; or an instance."""
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy in (None, "default"):
        return tf.distribute.get_strategy()
    if strategy == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if strategy == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if strategy == "parameter_server":
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        return tf.distribute.ParameterServerStrategy(resolver)
    if strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown strategy {strategy!r}; use None, 'default', 'mirrored', "
                     "'multi_worker', 'parameter_server', 'tpu' or a tf.distribute.Strategy")


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """This process's place in a multi-worker cluster (one worker, the chief, outside one)."""

    index: int = 0
    workers: int = 1  # tasks that train: the chief and the workers
    is_chief: bool = True
    worker_tasks: int = 0  # the "worker" job's size (a parameter-server cluster schedules on them)

    @property
    def multi_worker(self) -> bool:
        return self.workers > 1


def worker_role(strategy: tf.distribute.Strategy) -> WorkerRole:
    """The role under ``strategy``: the chief is the "chief" task, else worker 0 (TF's rule)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None and isinstance(strategy, tf.distribute.ParameterServerStrategy):
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()  # it keeps none
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    workers = sum(len(tasks) for job, tasks in cluster.items() if job in ("chief", "worker"))
    if workers <= 1:
        return WorkerRole()
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in cluster)
    return WorkerRole(index=task_id, workers=workers, is_chief=chief,
                      worker_tasks=len(cluster.get("worker", ())))
