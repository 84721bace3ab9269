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
import numpy as np
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


# Where the kill matrix's runs are SIGKILLed (tests/helpers/kill_at.py): 3 epochs of 6 steps,
# a checkpoint every 4 steps and at each epoch's end, a metric row every step.
MATRIX = ["experiment=smoke", "training.epochs=3", "training.steps_per_epoch=6",
          "training.checkpoint_every_steps=4", "training.log_every_steps=1",
          "training.sample_every_steps=6", "training.probe_every_steps=0"]  # fmt: skip
KILL_POINTS = {
    "mlp": [
        ("step", 2),  # early: before the first checkpoint (the resume starts over)
        ("step", 9),  # mid-epoch: the checkpoint of step 8 is the latest
        ("epoch_end", 2),  # just after the checkpoint at the second epoch's end (step 12)
        ("checkpoint_rename", 4),  # the 4th write (step 12): latest moved aside, new not in
        ("final_write", 1),  # training done, the generator file half-written
    ],
    # Dropout (0.4) in the discriminator: its random state is in the checkpoint too.
    "dcgan_small": [("step", 9), ("checkpoint_write", 3)],  # 3rd write: half an .h5 file
}
OLD_GENERATOR = b"the generator of an earlier run"


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
    from pipeline.stages.train import SECTIONS, train

    prepared = tmp_path / "prepared"
    prepare(validate_all(compose_config(["experiment=smoke", f"paths.prepared={prepared}"])))

    def overrides(workdir: Path) -> list[str]:
        paths = [o for o in output_overrides(workdir) if not o.startswith("paths.prepared=")]
        return [*MATRIX, f"model={model}", *paths, f"paths.prepared={prepared}"]

    def train_here(workdir: Path) -> None:
        run_guarded(train, compose_config(overrides(workdir)), SECTIONS)

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


def run_train_stage(
    workdir: Path, key: str, value: str, capsys, base: list[str] = LONG
) -> tuple[int, str]:
    """The train stage as its command runs it (validation, the stage, exit status and
    message), in this process: (exit status, stderr)."""
    from pipeline.cli import run_guarded
    from pipeline.stages.train import SECTIONS, train

    cfg = compose_config([*base, *outputs(workdir, key), f"{key}={value}"])
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
        base=["experiment=smoke", "training.probe_every_steps=0"],
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
             "training.epochs=40", "training.log_every_steps=1", "training.probe_every_steps=0",
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
        assert steps == list(range(1, 161))
        grids = [a.path for a in client.list_artifacts(run.info.run_id, "images")]
        assert len(grids) >= 2 * 41, grids[:4]  # every 4 steps and at 0: an image + a thumbnail
    finally:
        training.kill()
        stop_server(server)


def test_four_training_runs_at_once_on_a_new_sqlite_store(workdir):
    """Issue 9, #6 and #2: train stages started together on a new SQLite file raced in MLflow's
    schema migration (two of three died). All four runs are recorded, with every metric step."""
    uri = f"sqlite:///{workdir / 'new' / 'mlflow.db'}"
    stages = []
    for seed in range(4):  # a seed each: their own checkpoints
        mine = workdir / f"run{seed}"
        paths = [
            f"paths.{key}={mine / key}" for key in ("models", "metrics", "plots", "checkpoints")
        ]
        stages.append(start_command([
            sys.executable, "-m", "pipeline.stages.train", "experiment=smoke", f"seed={seed}",
            "training.log_every_steps=1", "training.probe_every_steps=0",
            f"paths.prepared={workdir / 'prepared'}", *paths, f"tracking.uri={uri}",
            f"hydra.run.dir={mine / 'hydra'}",
        ]))  # fmt: skip
    wait_all(stages)
    mlflow.set_tracking_uri(uri)
    found = mlflow.search_runs(experiment_names=["gan-pipeline"], output_format="list")
    assert sorted(run.data.params["seed"] for run in found) == ["0", "1", "2", "3"]
    client = mlflow.MlflowClient(uri)
    for run in found:
        assert run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "train/d_loss")
        assert sorted(m.step for m in history) == list(range(1, 9))
