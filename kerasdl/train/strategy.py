"""Resolve ``tf.distribute`` strategies by name, and split the CPU into logical devices."""
from __future__ import annotations

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
    "multi_worker" -> MultiWorkerMirroredStrategy (reads TF_CONFIG); "tpu" -> TPUStrategy; or an instance."""
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
    if strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown strategy {strategy!r}; use None, 'default', 'mirrored', "
                     "'multi_worker', 'tpu' or a tf.distribute.Strategy")
