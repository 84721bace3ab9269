"""Sweeps that optimise FID (issue 8, #1-#3): `python -m pipeline.tune` as a user runs it, in
its own process, against a fresh SQLite store: a Hydra multirun (in turn, and two jobs at once
through the joblib launcher) and an Optuna search, each one MLflow parent run with a child run
per job."""

from __future__ import annotations

import csv
import io
import math

import mlflow
import optuna
import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.files import SYSTEM_FASHION_MNIST
from tests.helpers.processes import run_module

pytestmark = [
    pytest.mark.skipif(
        not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
    ),
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Prepared data, classifier and feature cache shared by the module's sweeps; the first
    sweep makes them (tune does when they are missing), the others reuse them."""
    root = tmp_path_factory.mktemp("shared")
    return [f"paths.{key}={root / key}" for key in ("raw", "prepared", "classifier", "cache")]


def sweep_runs(uri: str) -> tuple:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("gan-pipeline")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in runs]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == len(runs) - 1, "every other run is a child of the sweep's parent"
    return client, parents[0], children


def check_best_and_artifacts(client, parent, children, swept: str) -> None:
    scored = [c for c in children if c.info.status == "FINISHED"]
    best = min(scored, key=lambda c: c.data.metrics["eval/fid"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.metrics["sweep/best_fid"] == pytest.approx(best.data.metrics["eval/fid"])
    assert parent.info.status == "FINISHED"
    mlflow.set_tracking_uri(client.tracking_uri)
    folder = mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, artifact_path="sweep")
    with open(f"{folder}/comparison.csv") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert rows[0]["run_id"] == best.info.run_id, "best first"
    assert {r["run_id"] for r in rows} == {c.info.run_id for c in children}
    assert swept in rows[0]
    with open(f"{folder}/comparison.md") as f:
        table = f.read()
    assert table.startswith("| run_name | run_id | status |") and best.info.run_id in table
    with open(f"{folder}/fid.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_sweep_is_a_parent_run_naming_the_best_of_its_children(tmp_path, shared):
    """The issue's own command: two jobs, one parent, two children with FID."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_module(
        "pipeline.tune", "-m", "experiment=smoke", "training.generator_lr=1e-4,2e-4", *shared,
        f"paths.checkpoints={tmp_path / 'ckpt'}", f"tracking.uri={uri}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    client, parent, children = sweep_runs(uri)
    assert len(children) == 2
    assert sorted(c.data.params["training.generator_lr"] for c in children) == ["0.0001", "0.0002"]
    for child in children:
        assert child.info.status == "FINISHED" and child.data.metrics["eval/fid"] > 0
        # Named after what it is; metrics in sections (the UI groups them by prefix).
        assert child.info.run_name.startswith("mlp fashion_mnist experiment=smoke training.")
        # Params say what a run is; its paths (one folder per job) would only clutter the
        # compare view: they are in the run's config.yaml.
        assert not [k for k in child.data.params if k.startswith(("paths.", "tracking."))]
        assert {k.split("/")[0] for k in child.data.metrics} == {
            "train", "probe", "eval", "floor"
        }  # fmt: skip
    assert parent.data.params["sweep.overrides"].startswith("experiment=smoke training.genera")
    assert parent.data.tags["sweep.swept"] == "training.generator_lr"
    assert "pipeline.tune -m experiment=smoke" in parent.data.params["sweep.command"]
    check_best_and_artifacts(client, parent, children, "training.generator_lr")
    # Each job wrote its generator into its own job folder.
    assert (tmp_path / "sweep" / "0" / "models" / "generator.keras").is_file()
    assert (tmp_path / "sweep" / "1" / "models" / "generator.keras").is_file()


@pytest.mark.faults  # issue 9, #6: training runs at once on a new SQLite store
@pytest.mark.distributed  # issue 10, #6: the local parallel launcher preset, run
def test_parallel_jobs_share_a_new_sqlite_store_without_losing_runs(tmp_path, shared):
    """hydra/launcher=parallel: 2 jobs in 2 processes at once, both writing to a store that
    neither has created yet. (`pipeline.stages.train -m` makes per-job folders the same way.)"""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_module(
        "pipeline.tune", "-m", "hydra/launcher=parallel", "experiment=smoke",
        "training.beta_1=0.0,0.9", *shared, f"paths.checkpoints={tmp_path / 'ckpt'}",
        f"tracking.uri={uri}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "n_jobs=2" in result.stderr + result.stdout
    assert "database is locked" not in result.stderr + result.stdout
    client, parent, children = sweep_runs(uri)
    assert sorted(c.data.params["training.beta_1"] for c in children) == ["0.0", "0.9"]
    assert all(c.info.status == "FINISHED" for c in children)
    assert parent.data.params["sweep.launcher"].endswith("JoblibLauncher")
    check_best_and_artifacts(client, parent, children, "training.beta_1")


def test_an_optuna_search_records_every_trial_as_a_child_run(tmp_path, shared):
    """hparams_search=smoke_optuna: 4 trials with a fixed sampler seed; the study lives in
    Optuna's own database, the runs in MLflow's; a pruned trial is a KILLED child."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = run_module(
        "pipeline.tune", "hparams_search=smoke_optuna", "experiment=smoke", *shared,
        f"paths.checkpoints={tmp_path / 'ckpt'}", f"tracking.uri={uri}",
        f"hparams_search.storage={storage}", f"hydra.run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="smoke_optuna", storage=storage)
    assert len(study.trials) == 4
    client, parent, children = sweep_runs(uri)
    assert len(children) == 4
    assert parent.data.tags["sweep"] == "optuna"
    by_trial = {int(c.info.run_name.split()[1]): c for c in children}  # "trial 3 mlp ..."
    for trial in study.trials:
        child = by_trial[trial.number]
        assert child.data.params["training.generator_lr"] == str(
            trial.params["training.generator_lr"]
        )
        if trial.state == optuna.trial.TrialState.PRUNED:
            assert child.info.status == "KILLED" and "pruned_at_step" in child.data.tags
        else:
            assert trial.state == optuna.trial.TrialState.COMPLETE
            assert math.isclose(child.data.metrics["eval/fid"], trial.value, rel_tol=1e-9)
    assert by_trial[study.best_trial.number].info.run_id == parent.data.tags["best_run_id"]
    check_best_and_artifacts(client, parent, children, "training.generator_lr")
    assert not (tmp_path / "mlflow.db").samefile(tmp_path / "optuna.db")


@pytest.mark.faults
def test_a_failing_job_ends_the_sweep_and_its_parent_run_failed(tmp_path, shared):
    """A job with a bad value stops the multirun with the error and fix lines and exit status
    2; the parent run ends FAILED (not RUNNING for ever), its table listing no job."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_module(
        "pipeline.tune", "-m", "experiment=smoke", "training.epochs=0,1", *shared,
        f"tracking.uri={uri}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "error: invalid configuration value for 'training.epochs'" in result.stderr
        and "\n  fix: " in result.stderr
    )
    client = MlflowClient(uri)
    (parent,) = client.search_runs([client.get_experiment_by_name("gan-pipeline").experiment_id])
    assert parent.info.status == "FAILED" and parent.data.metrics["sweep/jobs"] == 0
    assert "best_run_id" not in parent.data.tags
