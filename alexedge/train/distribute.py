"""Where training runs: a ``tf.distribute`` strategy chosen by name, and who writes files.

``auto`` picks what the machine offers: ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` describes a cluster, ``MirroredStrategy`` over all local GPUs when there
are several, otherwise TensorFlow's default single-device strategy. ``mirrored`` uses
every local GPU, or every logical CPU device when there is no GPU (the CPU twin that
tests use). ``multiworker`` reads the cluster from ``TF_CONFIG``; every worker runs the
same command and only the chief writes the run folder.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from alexedge.errors import ConfigError

__all__ = ["is_chief", "make_strategy"]

# One strategy per (name, TF_CONFIG) and process: MultiWorkerMirroredStrategy configures
# collective ops process-wide and cannot be created twice.
_STRATEGIES: dict[tuple[str, str], tf.distribute.Strategy] = {}


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The strategy for ``name`` (see the module docstring); created once per process.

    Raises:
        ConfigError: ``multiworker`` without a ``TF_CONFIG`` cluster, or a strategy that
            TensorFlow refuses (e.g. created after TensorFlow already started).
    """
    key = (name, os.environ.get("TF_CONFIG", ""))
    if key not in _STRATEGIES:
        try:
            _STRATEGIES[key] = _create(name)
        except (RuntimeError, ValueError) as e:
            raise ConfigError(f"--strategy {name}: {e}") from e
    return _STRATEGIES[key]


def _create(name: str) -> tf.distribute.Strategy:
    workers = _cluster_size()
    if name == "multiworker" or (name == "auto" and workers > 1):
        if workers == 0:
            raise ConfigError(
                "--strategy multiworker needs TF_CONFIG naming the cluster and this task, "
                'e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}'
            )
        # Must come before TensorFlow runs any op in this process (collective ops setup).
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(gpus or _cpu_devices())
    if name == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy(gpus)
    if name != "auto":
        raise ConfigError(f"unknown strategy {name!r}; use auto, mirrored or multiworker")
    return tf.distribute.get_strategy()


def _cpu_devices() -> list[str]:
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def _cluster_size() -> int:
    """Number of tasks ``TF_CONFIG`` lists (0 when unset)."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
        return sum(len(tasks) for tasks in cluster.values())
    except (ValueError, AttributeError, TypeError) as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON with a 'cluster' object ({e})") from e


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the one task that writes checkpoints, logs and metrics.

    TensorFlow's convention: the ``chief`` task if the cluster has one, else worker 0;
    a single-machine strategy is always the chief.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type is None:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
