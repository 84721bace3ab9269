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
from tests.helpers.store import OLD_GENERATOR, runs

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is missing"
    ),
]

# A long run (it is interrupted), no quality probe (no classifier needed), a checkpoint every 5
# steps and a log line every step, so the test sees training under way.
LONG = ["experiment=smoke", "training.epochs=1000", "monitor.probe_every_steps=0",
        "checkpoint.every_steps=5", "monitor.log_every_steps=1"]  # fmt: skip


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


def run_train_stage(
    workdir: Path, key: str, value: str, capsys, base: list[str] = LONG
) -> tuple[int, str]:
    """The train stage as its command runs it (validation, the stage, exit status and
    message), in this process: (exit status, stderr)."""
    from pipeline.cli import run_guarded
    from pipeline.stages.train import SCHEMA, train

    cfg = compose_config([*base, *outputs(workdir, key), f"{key}={value}"])
    with pytest.raises(SystemExit) as stopped:
        run_guarded(train, cfg, SCHEMA)
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


@pytest.fixture
def small_disk(tmp_path):
    """A real full disk: a 1 MiB tmpfs (mounting needs root; skipped otherwise)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("key", ["paths.models", "paths.checkpoints"])
def test_a_full_disk_is_a_clear_error_and_loses_nothing(workdir, small_disk, key, capsys):
    """Issue 9, #4: the generator (6 MB) or the first checkpoint does not fit on the disk: one
    error and fix line, exit status 2, the MLflow run FAILED, the earlier generator as it was
    and no partial checkpoint to resume from."""
    old = small_disk / "generator.keras"
    old.write_bytes(OLD_GENERATOR)
    status, err = run_train_stage(
        workdir,
        key,
        str(small_disk),
        capsys,
        base=["experiment=smoke", "monitor.probe_every_steps=0"],
    )
    assert status == 2, err
    assert "error: no space left on the disk" in err and "Traceback" not in err
    assert "fix: free space on that disk (df -h), or point paths." in err
    assert old.read_bytes() == OLD_GENERATOR
    assert not list(small_disk.rglob("*.weights.h5")), "a partial checkpoint"
    [run] = runs(workdir)
    assert run.info.status == "FAILED"


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


def start_mlflow_server(folder: Path, port: int) -> subprocess.Popen:
    """`mlflow server` on 127.0.0.1:port with an SQLite store and served artifacts in folder,
    once it answers; in its own process group, so that stop_server ends its workers too."""
    import urllib.request

    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
         "--artifacts-destination", str(folder / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=open(folder / "server.log", "a"),  # noqa: SIM115
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            return process
        except OSError:
            assert process.poll() is None, (folder / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not answer in 120 s"
            time.sleep(0.5)


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def test_a_tracking_server_down_mid_run_loses_nothing(workdir, tmp_path):
    """Issue 9, #5: the server stops while the stage trains and comes back later; training goes
    on, and every metric step and sample grid is in the store at the end."""
    from tests.helpers.processes import free_port

    port = free_port()
    server = start_mlflow_server(tmp_path, port)
    log = tmp_path / "train.log"
    with open(log, "w") as out:
        training = subprocess.Popen(
            [sys.executable, "-m", "pipeline.stages.train", "experiment=smoke",
             "training.epochs=20", "monitor.log_every_steps=1", "monitor.sample_every_steps=8", "monitor.probe_every_steps=0",
             *outputs(workdir, "tracking.uri"), f"tracking.uri=http://127.0.0.1:{port}",
             f"hydra.run.dir={workdir / 'hydra'}"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        wait_for_checkpoint(workdir, training)  # training (and logging) under way
        stop_server(server)
        deadline = time.monotonic() + 120
        while "does not answer" not in log.read_text():
            assert training.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no sign that the server was missed"
            time.sleep(0.2)
        time.sleep(3)  # a few more steps with the server down
        server = start_mlflow_server(tmp_path, port)
        assert training.wait(timeout=300) == 0, log.read_text()[-3000:]
        assert "answers again after" in log.read_text()
        client = mlflow.MlflowClient(f"http://127.0.0.1:{port}")
        [run] = client.search_runs([client.get_experiment_by_name("gan-pipeline").experiment_id])
        assert run.info.status == "FINISHED"
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "train/d_loss"))
        assert steps == list(range(1, 81))
        grids = [a.path for a in client.list_artifacts(run.info.run_id, "samples")]
        assert len(grids) == 11, grids[:4]  # every 8 steps and at 0, none lost in the outage
    finally:
        training.kill()
        stop_server(server)


LOGGER = """
import sys
import mlflow
from pipeline.config import TrackingConfig
from pipeline.tracking import runs as tracking
tracking.configure(TrackingConfig(uri=sys.argv[1], experiment_name="race", run_name=None,
                                  wait_for_server_s=0))
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
