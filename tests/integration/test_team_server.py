"""The team tracking server (issue 10, #3): `scripts/team_server.py` starts PostgreSQL (Debian's
package) and `mlflow server` on it with served artifacts, on 127.0.0.1; four training runs at
once record every run, metric step and artifact there, and the registry's champion rules work
the same over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipeline.stages.prepare import prepare
from pipeline.stages.register import register
from tests.helpers.configs import ROOT, compose_config, output_overrides, validate_all
from tests.helpers.processes import free_port, start_command, wait_all
from tests.helpers.registry import MODEL_NAME, champion_version, trained

SCRIPT = ROOT / "scripts" / "team_server.py"
HAS_POSTGRES = bool(
    shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
)

pytestmark = [
    pytest.mark.distributed,
    # CI installs PostgreSQL (scripts/setup.sh), so there a missing one fails the test.
    pytest.mark.skipif(
        not HAS_POSTGRES and not os.environ.get("CI"),
        reason="PostgreSQL is not installed (apt-get install postgresql)",
    ),
]


@pytest.fixture(scope="module")
def team_server():
    """The script's server in a fresh folder (under /tmp: PostgreSQL runs as `postgres` when
    the tests run as root, and pytest's own folders are closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="team-server-"))
    port = free_port()
    started = subprocess.run(
        [sys.executable, str(SCRIPT), "start", "--dir", str(folder), "--port", str(port),
         "--db-port", str(free_port())],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        uri = f"http://127.0.0.1:{port}"
        assert f"MLFLOW_TRACKING_URI={uri}" in started.stdout
        yield uri
    finally:
        subprocess.run([sys.executable, str(SCRIPT), "stop", "--dir", str(folder)], timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.faults  # issue 9, #6: four training runs at once against a server
def test_four_training_runs_at_once_lose_nothing(team_server, tmp_path):
    prepare(validate_all(compose_config(["experiment=smoke", *output_overrides(tmp_path)])))
    shared = [
        o for o in output_overrides(tmp_path) if o.startswith(("paths.prepared", "paths.raw"))
    ]
    jobs = [
        start_command(
            [
                sys.executable,
                "-m",
                "pipeline.stages.train",
                "experiment=smoke",
                "monitor.probe_every_steps=0",
                f"seed={seed}",
                *shared,
                *[
                    f"paths.{key}={tmp_path / f'job{seed}' / key}"
                    for key in ("models", "metrics", "plots", "checkpoints")
                ],
                f"tracking.uri={team_server}",
                f"hydra.run.dir={tmp_path / f'job{seed}' / 'hydra'}",
            ]
        )
        for seed in range(4)
    ]
    wait_all(jobs)

    client = MlflowClient(team_server)
    for seed in range(4):
        reference = json.loads((tmp_path / f"job{seed}" / "models" / "train_run.json").read_text())
        assert reference["tracking_uri"] == team_server
        run = client.get_run(reference["run_id"])
        assert run.info.status == "FINISHED" and run.data.params["seed"] == str(seed)
        for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "images_per_s"):
            steps = [m.step for m in client.get_metric_history(run.info.run_id, f"train/{key}")]
            assert steps == [2, 4, 6, 8], (seed, key, steps)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config.yaml", "samples", "training_curves.png", "images"} <= artifacts
        # Served by the server (mlflow-artifacts:/...), read back over HTTP.
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        mlflow.set_tracking_uri(team_server)
        config = yaml.safe_load(mlflow.artifacts.load_text(f"{run.info.artifact_uri}/config.yaml"))
        assert config["seed"] == seed
    experiment = client.get_experiment_by_name("gan-pipeline")
    assert len(client.search_runs([experiment.experiment_id])) == 4


def test_the_champion_rules_hold_over_http(
    team_server, tmp_path, smoke_cfg, generator_file, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team_server)
    mlflow.set_tracking_uri(team_server)
    client = MlflowClient(team_server)
    first, _ = trained(tmp_path, smoke_cfg, generator_file, 30.0, "P1", "first")
    assert register(first) == "champion"
    worse, _ = trained(tmp_path, smoke_cfg, generator_file, 40.0, "P1", "worse")
    assert register(worse) == "challenger" and champion_version(client) == "1"
    better, better_run = trained(tmp_path, smoke_cfg, generator_file, 20.0, "P1", "better")
    assert register(better) == "champion" and champion_version(client) == "3"
    assert register(better) == "champion", "a rerun registers nothing new"
    versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]
    assert client.get_run(better_run).data.tags["registry.decision"] == "champion"
