"""tf.distribute (issue 10, #1): the train stage under `compute.strategy=mirrored` on the CPU
split into 2 logical devices, and under `multi_worker` as two processes on 127.0.0.1 with
TF_CONFIG each, against the same stage on one device. Every run is the stage's own command in
its own process (the devices of a process are fixed when TensorFlow starts)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest

from pipeline.stages.prepare import prepare
from tests.helpers.configs import compose_config, output_overrides, validate_all
from tests.helpers.files import SYSTEM_FASHION_MNIST
from tests.helpers.processes import free_port, run_command, start_command, wait_all

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.skipif(
        not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is missing"
    ),
]

# The smoke run (8 steps of 64 images), class-conditional (labels split with the images),
# no quality probe (no classifier needed). Its mlp has BatchNorm, synchronized across replicas.
RUN = ["experiment=smoke", "training.conditional=true", "monitor.probe_every_steps=0"]
# Weights may differ by the order of floating-point sums across replicas, amplified by training
# (BatchNorm's statistics, Adam's normalisation of small gradients), no more. Measured after 8
# steps, against updates of 2e-4 per step: at most 5e-7 (mirrored) and, for two workers, 4e-7
# with one seed's draws and 7.1e-5 (median 9e-7) with another's. A wrong split (replicas on
# the same rows, a gradient counted twice) moves most weights by about an update: the median.
TOLERANCE = 1e-4  # the largest difference: half an update
MEDIAN_TOLERANCE = 2e-6  # the typical one: 1% of an update


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("distributed")
    prepare(validate_all(compose_config(["experiment=smoke", *output_overrides(folder)])))
    return folder


def train_command(workdir: Path, name: str, *extra: str) -> list[str]:
    """The train stage writing its generator and checkpoints under workdir/<name>/."""
    return [
        sys.executable, "-m", "pipeline.stages.train", *RUN,
        *[o for o in output_overrides(workdir) if not o.startswith(("paths.models", "paths.checkpoints"))],
        f"paths.models={workdir / name / 'models'}",
        f"paths.checkpoints={workdir / name / 'checkpoints'}",
        f"hydra.run.dir={workdir / name / 'hydra'}", *extra,
    ]  # fmt: skip


def weights(path: Path) -> list[np.ndarray]:
    return keras.models.load_model(path).get_weights()


def largest_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """The largest absolute difference of any weight; asserts the median one is rounding's."""
    assert len(a) == len(b)
    differences = np.concatenate([np.abs(x - y).ravel() for x, y in zip(a, b, strict=True)])
    assert float(np.median(differences)) < MEDIAN_TOLERANCE, float(np.median(differences))
    return float(differences.max())


def runs(workdir: Path, **filters: str) -> list:
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    found = mlflow.search_runs(search_all_experiments=True, output_format="list")
    return [r for r in found if all(r.data.params.get(k) == v for k, v in filters.items())]


@pytest.fixture(scope="module")
def one_device(workdir) -> list[np.ndarray]:
    """The generator of the run on one device, the reference for the others."""
    done = run_command(train_command(workdir, "single"))
    assert done.returncode == 0, done.stderr[-3000:]
    return weights(workdir / "single" / "models" / "generator.keras")


def tf_config(ports: list[int], index: int) -> dict[str, str]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return {
        "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
    }


def start_workers(workdir: Path, name: str, *extra: str) -> list[subprocess.Popen]:
    ports = [free_port(), free_port()]
    command = train_command(workdir, name, "compute.strategy=multi_worker", *extra)
    return [start_command(command, tf_config(ports, index)) for index in (0, 1)]


def test_mirrored_on_two_cpu_devices_matches_one_device(workdir, one_device):
    """The global batch of 64 split 32 + 32, losses scaled, noise and labels sliced from one
    draw, BatchNorm over the global batch: the same generator as one device, within float
    rounding. Trained as 4 steps, then resumed from their checkpoint to 8 (the checkpoint
    holds the mirrored variables); each session one MLflow run that says how it trained."""
    mirrored = ["compute.strategy=mirrored", "compute.cpu_devices=2"]
    for epochs in (1, 2):
        done = run_command(
            train_command(workdir, "mirrored", *mirrored, f"training.epochs={epochs}")
        )
        assert done.returncode == 0, done.stderr[-3000:]
    resumed = weights(workdir / "mirrored" / "models" / "generator.keras")
    assert largest_difference(one_device, resumed) < TOLERANCE
    [record] = runs(workdir, **{"compute.strategy": "mirrored", "training.epochs": "2"})
    assert record.info.status == "FINISHED" and record.data.params["compute.cpu_devices"] == "2"
    assert record.data.tags["resumed_from_step"] == "4"


def test_two_workers_train_one_generator_and_one_run(workdir, one_device):
    """Two processes with TF_CONFIG on 127.0.0.1: the chief (worker 0) writes the generator,
    the checkpoints and the one MLflow run; the other worker trains and writes nothing. Run
    as 4 steps, then resumed to 8: both workers restore from the chief's checkpoint."""
    for epochs in (1, 2):
        chief, worker = start_workers(workdir, "workers", f"training.epochs={epochs}")
        _, worker_output = wait_all([chief, worker], timeout=300)
    assert "worker done: 8 steps; the chief wrote the outputs" in worker_output
    together = weights(workdir / "workers" / "models" / "generator.keras")
    assert largest_difference(one_device, together) < TOLERANCE
    [record] = runs(workdir, **{"compute.strategy": "multi_worker", "training.epochs": "2"})
    assert record.info.status == "FINISHED" and record.data.tags["resumed_from_step"] == "4"
    assert (
        json.loads((workdir / "workers" / "models" / "train_run.json").read_text())["run_id"]
        == record.info.run_id
    )


def test_killing_a_worker_fails_the_run_cleanly(workdir):
    """SIGKILL the second worker mid-run: the chief stops within a minute with an error:/fix:
    message and exit 2 (no traceback, no hang), its MLflow run ends FAILED, and the checkpoint
    it wrote is kept."""
    chief, worker = start_workers(
        workdir, "killed", "training.epochs=1000", "checkpoint.every_steps=5"
    )
    deadline = time.monotonic() + 180
    while not list((workdir / "killed" / "checkpoints").glob("*/latest.weights.h5")):
        assert chief.poll() is None and worker.poll() is None, chief.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no checkpoint written in time"
        time.sleep(0.2)
    worker.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    try:
        _, stderr = chief.communicate(timeout=120)
    finally:
        chief.kill()
        worker.communicate()
    assert time.monotonic() - killed_at < 120
    assert chief.returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "error: training stopped: a worker of this multi-worker run failed" in stderr
    assert "fix: see the other workers' output" in stderr
    [record] = runs(workdir, **{"training.epochs": "1000"})
    assert record.info.status == "FAILED"
    assert list((workdir / "killed" / "checkpoints").glob("*/latest.weights.h5"))
    assert not (workdir / "killed" / "models" / "generator.keras").exists()
