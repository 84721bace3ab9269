"""Faults met by real processes: signals and kills during training, with the MLflow store and
the checkpoints checked afterwards (issue 9). Each test starts `python -m
pipeline.stages.train` as a user would and interrupts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from pipeline.stages.prepare import prepare
from tests.helpers.configs import ROOT, compose_config, output_overrides, validate_all
from tests.helpers.files import SYSTEM_FASHION_MNIST
from tests.helpers.processes import start_command, wait_all

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is missing"
    ),
]

# A long run (it is interrupted), no quality probe (no classifier needed), a checkpoint every 5
# steps and a log line every step, so the test sees training under way.
LONG = ["experiment=smoke", "training.epochs=1000", "training.probe_every_steps=0",
        "training.checkpoint_every_steps=5", "training.log_every_steps=1"]  # fmt: skip


@pytest.fixture
def workdir(tmp_path) -> Path:
    cfg = validate_all(compose_config(["experiment=smoke", *output_overrides(tmp_path)]))
    prepare(cfg)
    return tmp_path


def outputs(workdir: Path, *but: str) -> list[str]:
    """output_overrides, less the keys a test sets itself (Hydra refuses a key given twice)."""
    return [o for o in output_overrides(workdir) if o.split("=")[0] not in but]


def start_training(workdir: Path, *extra: str) -> subprocess.Popen:
    args = [*LONG, *output_overrides(workdir), f"hydra.run.dir={workdir / 'hydra'}", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.stages.train", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoint(workdir: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not list((workdir / "checkpoints").glob("*/latest.weights.h5")):
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no checkpoint written in time"
        time.sleep(0.2)


def runs(workdir: Path) -> list:
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    return mlflow.search_runs(search_all_experiments=True, output_format="list")


@pytest.mark.parametrize("number", [signal.SIGTERM], ids=["SIGTERM"])
def test_a_signal_checkpoints_closes_the_run_and_exits_non_zero(workdir, number):
    """Issue 9, #2/#3: the step under way finishes, a checkpoint of it is written, the MLflow
    run ends KILLED (not RUNNING), the exit status is 128 + the signal, and no traceback."""
    process = start_training(workdir)
    wait_for_checkpoint(workdir, process)
    process.send_signal(number)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + number, stderr[-2000:]
    assert "Traceback" not in stderr
    assert f"error: stopped by {signal.Signals(number).name} at step" in stderr
    assert "fix: run the same command again to resume" in stderr
    step = int(stderr.split(" at step ")[1].split(";")[0])
    metadata = next((workdir / "checkpoints").glob("*/training_metadata.json"))
    assert metadata.is_file() and step > 0
    [run] = runs(workdir)
    assert (
        run.info.status == "KILLED" and run.data.tags["stopped_by"] == signal.Signals(number).name
    )
    assert not (workdir / "models" / "generator.keras").exists()


def test_sigkill_then_resume_closes_the_orphaned_run_and_links_it(workdir):
    """Issue 9, #1/#3: a SIGKILLed run cannot close itself; the next run of the same checkpoint
    folder marks it KILLED, names it (tag continues_runs) and resumes from the checkpoint."""
    process = start_training(workdir)
    wait_for_checkpoint(workdir, process)
    process.kill()
    process.communicate(timeout=60)
    [orphan] = runs(workdir)
    assert orphan.info.status == "RUNNING"

    resumed = start_training(  # 100 steps: past the checkpoint, few log lines and grids
        workdir,
        "training.epochs=25",
        "training.log_every_steps=20",
        "training.sample_every_steps=50",
    )
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr[-3000:]
    by_id = {run.info.run_id: run for run in runs(workdir)}
    assert by_id[orphan.info.run_id].info.status == "KILLED"
    [new] = [run for run in by_id.values() if run.info.run_id != orphan.info.run_id]
    assert new.info.status == "FINISHED"
    assert new.data.tags["continues_runs"] == orphan.info.run_id
    assert int(new.data.tags["resumed_from_step"]) > 0


def run_train_stage(workdir: Path, key: str, value: str, capsys) -> tuple[int, str]:
    """The train stage as its command runs it (validation, the stage, exit status and
    message), in this process: (exit status, stderr)."""
    from pipeline.cli import run_guarded
    from pipeline.stages.train import SECTIONS, train

    cfg = compose_config([*LONG, *outputs(workdir, key), f"{key}={value}"])
    with pytest.raises(SystemExit) as stopped:
        run_guarded(train, cfg, SECTIONS)
    return int(stopped.value.code), capsys.readouterr().err


def test_an_unwritable_output_folder_fails_before_training(workdir, capsys):
    """Issue 9, #6/#12: found before any training and before an MLflow run is started."""
    blocker = workdir / "not-a-folder"
    blocker.write_text("a file where a folder should be\n")
    status, err = run_train_stage(workdir, "paths.models", str(blocker / "models"), capsys)
    assert status == 2
    assert f"error: cannot write to {blocker / 'models'} (paths.models)" in err
    assert "fix: make it writable" in err
    assert not list((workdir / "checkpoints").glob("*/latest.weights.h5"))
    assert not (workdir / "mlflow.db").exists() or not runs(workdir)


def test_a_tracking_server_that_is_down_fails_fast(workdir, capsys):
    """Issue 9, #7: seconds, not minutes of MLflow's retries, and before any training."""
    from tests.helpers.processes import free_port

    start = time.monotonic()
    status, err = run_train_stage(
        workdir, "tracking.uri", f"http://127.0.0.1:{free_port()}", capsys
    )
    seconds = time.monotonic() - start
    assert status == 2
    assert "error: cannot reach the MLflow tracking server http://127.0.0.1:" in err
    assert not list((workdir / "checkpoints").glob("*/latest.weights.h5"))
    assert seconds < 30, f"{seconds:.0f}s"


LOGGER = """
import sys
import mlflow
from pipeline import tracking
tracking.configure({"uri": sys.argv[1], "experiment_name": "race"})
with mlflow.start_run(run_name=sys.argv[2]):
    for step in range(50):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
"""


def test_four_runs_at_once_on_a_new_sqlite_store(tmp_path):
    """Issue 9, #2: processes started together on a new SQLite file raced in MLflow's schema
    migration (two of three died). All four runs are recorded, with every metric step."""
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    wait_all([start_command([sys.executable, "-c", LOGGER, uri, f"run{i}"]) for i in range(4)])
    mlflow.set_tracking_uri(uri)
    found = mlflow.search_runs(experiment_names=["race"], output_format="list")
    assert sorted(run.info.run_name for run in found) == [f"run{i}" for i in range(4)]
    client = mlflow.MlflowClient(uri)
    for run in found:
        history = client.get_metric_history(run.info.run_id, "loss")
        assert sorted(m.step for m in history) == list(range(50))
