"""SIGKILL at any point of the train stage, then the stage again: the weights of a run never
killed, bit for bit (issue 9, #1). The kills are real (tests/helpers/kill_at.py); Dropout's
exact resume (dcgan_small) is tested at the loop level, tests/integration/training."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest

from pipeline.stages.prepare import prepare
from tests.helpers.configs import compose_config, output_overrides, validate_all
from tests.helpers.files import SYSTEM_FASHION_MNIST
from tests.helpers.processes import start_command
from tests.helpers.store import OLD_GENERATOR, runs

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is missing"
    ),
]

# Where the kill matrix's runs are SIGKILLed (tests/helpers/kill_at.py): 3 epochs of 6 steps,
# a checkpoint every 4 steps and at each epoch's end, a metric row every step.
MATRIX = ["experiment=smoke", "training.epochs=3", "training.steps_per_epoch=6",
          "checkpoint.every_steps=4", "monitor.log_every_steps=1",
          "monitor.sample_every_steps=6", "monitor.probe_every_steps=0"]  # fmt: skip
KILL_POINTS = {
    "mlp": [
        ("step", 2),  # early: before the first checkpoint (the resume starts over)
        ("step", 9),  # mid-epoch: the checkpoint of step 8 is the latest
        ("epoch_end", 2),  # just after the checkpoint at the second epoch's end (step 12)
        ("checkpoint_rename", 4),  # the 4th write (step 12): latest moved aside, new not in
        ("final_write", 1),  # training done, the generator file half-written
    ],
}


def generator_weights(path: Path) -> list:
    from pipeline.artifacts import load_keras_model

    return load_keras_model(path, "train").get_weights()


@pytest.mark.parametrize("model", list(KILL_POINTS))
def test_sigkill_anywhere_then_resume_ends_bit_identical(tmp_path, model, capsys):
    """Issue 9, #1: SIGKILL at each point, then the stage again: it resumes from the last
    complete checkpoint (never a partial one) and ends with the very weights of a run never
    killed. The killed MLflow run is closed KILLED and named by the new one, whose metric
    history has every step once; an earlier generator file outlives the kill."""
    from pipeline.cli import run_guarded
    from pipeline.stages.train import SCHEMA, train

    prepared = tmp_path / "prepared"
    prepare(validate_all(compose_config(["experiment=smoke", f"paths.prepared={prepared}",
                                         f"paths.metrics={tmp_path / 'metrics'}"])))  # fmt: skip

    def overrides(workdir: Path) -> list[str]:
        paths = [o for o in output_overrides(workdir) if not o.startswith("paths.prepared=")]
        return [*MATRIX, f"model={model}", *paths, f"paths.prepared={prepared}"]

    def train_here(workdir: Path) -> None:
        run_guarded(train, compose_config(overrides(workdir)), SCHEMA)

    points = KILL_POINTS[model]
    killed = []
    for point, n in points:
        workdir = tmp_path / f"{point}-{n}"
        (workdir / "models").mkdir(parents=True)
        (workdir / "models" / "generator.keras").write_bytes(OLD_GENERATOR)
        args = [*overrides(workdir), f"hydra.run.dir={workdir / 'hydra'}"]
        killed.append(
            start_command([sys.executable, "-m", "tests.helpers.kill_at", point, str(n), *args])
        )
    train_here(tmp_path / "straight")
    expected = generator_weights(tmp_path / "straight" / "models" / "generator.keras")

    for (point, n), process in zip(points, killed, strict=True):
        _, stderr = process.communicate(timeout=300)
        workdir = tmp_path / f"{point}-{n}"
        assert process.returncode == -signal.SIGKILL, f"{point} {n}: {stderr[-3000:]}"
        assert (workdir / "models" / "generator.keras").read_bytes() == OLD_GENERATOR, point
        [orphan] = runs(workdir)
        assert orphan.info.status == "RUNNING"

        train_here(workdir)
        assert not list((workdir / "models").glob(".*.tmp*")), f"{point}: a half-written file"
        resumed = generator_weights(workdir / "models" / "generator.keras")
        for a, b in zip(expected, resumed, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"killed at {point} {n}")
        by_id = {run.info.run_id: run for run in runs(workdir)}
        assert by_id.pop(orphan.info.run_id).info.status == "KILLED"
        [new] = by_id.values()
        assert (
            new.info.status == "FINISHED" and new.data.tags["continues_runs"] == orphan.info.run_id
        )
        history = mlflow.MlflowClient().get_metric_history(new.info.run_id, "train/d_loss")
        assert sorted(m.step for m in history) == list(range(1, 19)), f"{point} {n}"
    capsys.readouterr()
