"""Where the train step runs: TensorFlow's distribution strategies, chosen by
`compute.strategy`.

- ``default``: one device (TensorFlow's default strategy).
- ``mirrored``: every local GPU, or, on a machine without one, the CPU split into
  ``compute.cpu_devices`` logical devices (for trying it out and for tests).
- ``multi_worker``: several processes, on one machine or several, each told the cluster and its
  own place in it by ``$TF_CONFIG`` (TensorFlow's convention); each process uses its local
  devices as ``mirrored`` does.

Each step's global batch (`training.batch_size`) is split across the replicas. The GAN's step
(pipeline.gan.replicas) divides each replica's loss by the number of replicas before the
optimizers sum the replicas' gradients, slices one global draw of noise and labels per replica,
and BatchNormalization takes its statistics over the global batch, so a mirrored run computes
what one device computes, up to the order of floating-point sums.

Only the chief (``chief`` in TF_CONFIG, else worker 0) writes checkpoints, outputs and MLflow
records; every worker restores from the chief's checkpoint, so the checkpoint folder must be
one that every worker can read (a shared filesystem across machines).

The strategy is made once per process, before TensorFlow starts its runtime (logical devices,
the multi-worker cluster and the CPU thread pools can only be set up then): call
:func:`strategy` first thing.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import Any

import tensorflow as tf

from pipeline.config import ComputeConfig
from pipeline.errors import PipelineError

STRATEGIES = ("default", "mirrored", "multi_worker")


def strategy(compute: ComputeConfig) -> tf.distribute.Strategy:
    """The strategy that ``compute`` names (made on the first call, the same one after)."""
    threads(compute.intra_op_threads, compute.inter_op_threads)
    return _strategy(compute.strategy, compute.cpu_devices)


@functools.cache
def hardware() -> str:
    """What trains, in words: the GPUs' names, else the CPU cores ("CPU, 2 cores")."""
    import os

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU, {os.cpu_count()} cores"
    names = [tf.config.experimental.get_device_details(g).get("device_name", "GPU") for g in gpus]
    return ", ".join(f"{names.count(n)} x {n}" for n in dict.fromkeys(names))


def threads(intra_op: int, inter_op: int) -> None:
    """TensorFlow's CPU thread pools: threads within one op, and ops run at once (0: its
    default, every core). A small GAN's ops are too small to split well: on 2 cores, one thread
    an op with two ops at once, and 10 steps a call, trained 1.1-1.6x the steps per second of
    TensorFlow's default with one step a call (2026-11-24; benchmarks/train_throughput.py
    --threads compares). Set only before the runtime starts; a process that already ran
    TensorFlow keeps its pools, and this says so once."""
    config = tf.config.threading
    wanted = {"intra_op_threads": intra_op, "inter_op_threads": inter_op}
    current = {
        "intra_op_threads": config.get_intra_op_parallelism_threads(),
        "inter_op_threads": config.get_inter_op_parallelism_threads(),
    }
    if wanted == current:
        return
    try:
        config.set_intra_op_parallelism_threads(intra_op)
        config.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # TensorFlow's runtime has already started
        print(
            f"note: TensorFlow already runs with {current}, not training.{wanted}: set them "
            "first thing in the process (pipeline.training.distribute.strategy)",
            file=sys.stderr,
        )


@functools.cache
def _strategy(name: str, cpu_devices: int) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name not in STRATEGIES:
        raise PipelineError(
            f"unknown compute.strategy {name!r}", f"use one of {', '.join(STRATEGIES)}"
        )
    if name == "multi_worker":
        _tf_config()  # checked here; TensorFlow reads it from the environment itself
        sys.unraisablehook = _ignore_tensorflows_unclosed_pool(sys.unraisablehook)
    gpus = tf.config.list_physical_devices("GPU")  # (listing them starts nothing)
    try:
        if not gpus and cpu_devices > 1:
            tf.config.set_logical_device_configuration(
                tf.config.list_physical_devices("CPU")[0],
                [tf.config.LogicalDeviceConfiguration()] * cpu_devices,
            )
        if name == "multi_worker":
            return tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=tf.distribute.experimental.CommunicationOptions(
                    implementation=tf.distribute.experimental.CommunicationImplementation.RING,
                )
            )
    except RuntimeError as e:  # TensorFlow's runtime has already started
        raise PipelineError(
            f"cannot set up compute.strategy={name}: {e}",
            "choose the strategy first thing in the process, before TensorFlow runs anything "
            "(pipeline.training.distribute.strategy)",
        ) from None
    devices = [device.name for device in tf.config.list_logical_devices("GPU" if gpus else "CPU")]
    return tf.distribute.MirroredStrategy(devices)


def _ignore_tensorflows_unclosed_pool(previous: Any) -> Any:
    """When a worker is lost, TensorFlow's eager all-reduce (cross_device_ops.py) leaves its
    ThreadPool unclosed; at exit the pool's ``__del__`` writes to a closed pipe, and Python
    printed that (in about 1 run of 4) as a traceback after our clean error. That one is
    ignored; anything else goes to the previous hook."""

    def hook(unraisable: Any) -> None:
        where = getattr(unraisable.object, "__qualname__", "")
        if where == "Pool.__del__" and isinstance(unraisable.exc_value, OSError):
            return
        previous(unraisable)

    return hook


def _tf_config() -> dict[str, Any]:
    text = os.environ.get("TF_CONFIG", "")
    fix = (
        'set TF_CONFIG in each process, e.g. {"cluster": {"worker": ["host1:port", '
        '"host2:port"]}, "task": {"type": "worker", "index": 0}} (index 1 on the second)'
    )
    if not text:
        raise PipelineError("compute.strategy=multi_worker needs $TF_CONFIG", fix)
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise PipelineError(f"$TF_CONFIG is not a cluster and a task ({e})", fix) from None
    members = config["cluster"].get(kind, workers if kind == "worker" else [])
    if not 0 <= index < len(members):
        raise PipelineError(
            f"$TF_CONFIG names task {kind} {index}, which its cluster does not have", fix
        )
    return dict(config)


def lost_worker(error: Exception) -> PipelineError:
    """The error for a multi-worker run whose collective ops failed: a worker died or cannot
    be reached (TensorFlow's coordination service notices within seconds: 13 s measured)."""
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return PipelineError(
        f"training stopped: a worker of this multi-worker run failed or cannot be reached "
        f"({type(error).__name__}: {detail[:200]}); the last checkpoint is kept",
        "see the other workers' output for the cause, then start every worker again with the "
        "same command (checkpoint.resume=true continues from the checkpoint)",
    )


WORKER_ERRORS = (
    tf.errors.DeadlineExceededError, tf.errors.UnavailableError, tf.errors.InternalError,
    tf.errors.CancelledError,
)  # fmt: skip


def is_chief(compute: ComputeConfig) -> bool:
    """Whether this process writes checkpoints, outputs and MLflow records: always, except a
    multi-worker run's workers other than the chief."""
    if compute.strategy != "multi_worker":
        return True
    config = _tf_config()
    task = config["task"]
    if "chief" in config["cluster"]:
        return bool(task["type"] == "chief")
    return bool(task["type"] == "worker" and int(task["index"]) == 0)


def check_batch(batch_size: int, replicas: int) -> None:
    """The global batch (`training.batch_size`) splits evenly across the replicas."""
    if replicas > 1 and batch_size % replicas:
        raise PipelineError(
            f"training.batch_size={batch_size} does not split across {replicas} replicas",
            f"use a multiple of {replicas}",
        )
