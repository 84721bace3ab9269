"""MLflow: where runs go (the store, its locks, the server check), what every run records, and
the logged generator."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
import mlflow.exceptions

import pipeline
from pipeline.config import TrackingConfig, flatten
from pipeline.errors import Interrupted, PipelineError, Pruned
from pipeline.io import file_lock, process_alive, repo_root

# MLflow's own chatter (alembic migrations, "run ... started") drowns the training output.
for _name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent"):
    logging.getLogger(_name).setLevel(logging.WARNING)


# Metric names are "<section>/<name>", the same for every kind of run (plain, sweep child, DVC
# experiment), so that the MLflow UI shows each section apart and compares any mix of runs:
TRAIN = "train"  # training curves: losses, D's accuracy, throughput, by step
PROBE = "probe"  # the quality probe's FID/KID during training, by step
# The evaluate stage's scores: eval/<key> and floor/<key> (pipeline.tracking.evaluation)
EVALUATION_DIR = "evaluation"  # the run's artifact folder of evaluate's outputs
# MLflow 3 opens an experiment without this tag in its GenAI view (traces, assistant); with it,
# in the model-training view (runs, charts)
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def training_metric_key(name: str) -> str:
    """``d_loss`` -> ``train/d_loss``; the probe's ``probe_fid`` -> ``probe/fid``."""
    if name.startswith("probe_"):
        return f"{PROBE}/{name.removeprefix('probe_')}"
    return f"{TRAIN}/{name}"


def run_params(cfg: Mapping[str, Any]) -> dict[str, str]:
    """The config as MLflow params: what the run is, not where its files and records go (those
    differ between the jobs of a sweep, and the UI's compare view would show them first; the
    whole config, paths included, is the run's config.yaml)."""
    return {k: v for k, v in flatten(cfg).items() if not k.startswith(("paths.", "tracking."))}


def git_commit(path: Path | None = None) -> str:
    """HEAD's hash, with "-dirty" when tracked files have uncommitted changes. In a DVC
    experiment, the commit it is based on: DVC writes the experiment's params into the work
    tree and commits the whole work tree as the experiment (tag dvc_experiment names it), so
    "-dirty" would say nothing true."""
    baseline = os.environ.get("DVC_EXP_BASELINE_REV")
    if baseline:
        return baseline
    cwd = path or repo_root()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def tracking_uri(tracking: TrackingConfig) -> str:
    """Config value, then $MLFLOW_TRACKING_URI, then an absolute SQLite file at the repo root."""
    if tracking.uri:
        return tracking.uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{repo_root() / 'mlflow.db'}"


def sqlite_file(uri: str) -> Path:
    """The database file of a ``sqlite:///`` tracking URI."""
    return Path(uri.removeprefix("sqlite:///"))


def artifact_location(uri: str, experiment_name: str) -> str | None:
    """Beside an SQLite store, in mlartifacts/. MLflow's default is ./mlruns relative to the
    working directory, which for DVC's queued experiments is a copy that is thrown away.
    A tracking server decides for itself (None)."""
    if not uri.startswith("sqlite:///"):
        return None
    return (sqlite_file(uri).parent / "mlartifacts" / experiment_name).as_uri()


def configure(tracking: TrackingConfig) -> str:
    """Point MLflow at the configured store and experiment (created if new); return the URI."""
    uri = tracking_uri(tracking)
    check_server(uri)
    mlflow.set_tracking_uri(uri)
    name = tracking.experiment_name
    try:
        with _first_contact_lock(uri):
            if mlflow.get_experiment_by_name(name) is None:
                with contextlib.suppress(mlflow.exceptions.MlflowException):  # made meanwhile
                    mlflow.create_experiment(
                        name, artifact_location=artifact_location(uri, name), tags=EXPERIMENT_KIND
                    )
            experiment = mlflow.set_experiment(name)
            kind = next(iter(EXPERIMENT_KIND))
            if kind not in experiment.tags:  # made before the tag was set, or by hand
                mlflow.MlflowClient().set_experiment_tag(
                    experiment.experiment_id, kind, EXPERIMENT_KIND[kind]
                )
    except Exception as e:  # MlflowException, connection errors, SQLAlchemy errors
        sqlite = uri.startswith("sqlite:")
        raise PipelineError(
            f"cannot open the MLflow tracking store {uri}: {' '.join(str(e).split())[:300]}",
            "check that the SQLite file's folder exists and is writable, or unset tracking.uri"
            if sqlite
            else "start the server, fix MLFLOW_TRACKING_URI / tracking.uri, or unset it to use "
            "the SQLite file at the repo root",
        ) from None
    return uri


@contextlib.contextmanager
def store_lock(uri: str, purpose: str) -> Iterator[None]:
    """One process of this host at a time does ``purpose`` on the store at ``uri``. For SQLite,
    a lock file beside the database (<db>.<purpose>.lock); for a server, one in the temporary
    folder named after its URI (processes on other hosts are not held back)."""
    if uri.startswith("sqlite:///"):
        db = sqlite_file(uri)
        path = db.with_name(f"{db.name}.{purpose}.lock")
    else:
        digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"mlflow-{digest}.{purpose}.lock"
    with file_lock(path):
        yield


def _first_contact_lock(uri: str) -> contextlib.AbstractContextManager[None]:
    """For an SQLite store, one process at a time creates or migrates its schema: processes
    started together on a new file otherwise race in MLflow's migrations ("Online migration
    expected to match one row")."""
    if not uri.startswith("sqlite:///"):
        return contextlib.nullcontext()
    return store_lock(uri, "schema")


def check_server(uri: str, timeout: float = 5.0) -> None:
    """For a tracking server (http/https), ask its /health endpoint once, so that a server that
    is down fails in seconds, before any compute is spent, rather than after MLflow's retries
    (minutes of warnings)."""
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError:
        return  # it answers: a proxy or an older server without /health; MLflow will tell
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise PipelineError(
            f"cannot reach the MLflow tracking server {uri}: {reason}",
            "start it (mlflow server --host 127.0.0.1 --port <port> ...), fix "
            "MLFLOW_TRACKING_URI / tracking.uri, or unset both to use the SQLite file at the "
            "repo root",
        ) from None


@contextlib.contextmanager
def training_run(
    tracking: TrackingConfig,
    config: Mapping[str, Any],
    data_meta: Mapping[str, Any],
    checkpoint_dir: Path | None = None,
    parent_run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run with the full resolved ``config``, the git commit and the data checksum,
    named ``tracking.run_name`` (the CLI names it after the model, dataset and overrides), a
    child of ``parent_run_id`` when a sweep runs it, with ``tags`` (the architecture, the loss,
    the hardware). Runs of the same checkpoint folder that a killed process left RUNNING are
    marked KILLED first, and the new run names them (tag ``continues_runs``). A pruned trial
    ends KILLED with tag ``pruned_at_step``."""
    configure(tracking)
    tags = {
        "git_commit": git_commit(),
        "dataset": data_meta["dataset"],
        "dataset_checksum": data_meta["checksum"],
        "stage": "train",
        "pipeline_version": pipeline.__version__,
        **(tags or {}),
    }
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_experiment"] = os.environ["DVC_EXP_NAME"]
    if checkpoint_dir is not None:
        tags["checkpoint_dir"] = str(checkpoint_dir)
        orphans = close_orphaned_runs(
            tracking.experiment_name, "checkpoint_dir", str(checkpoint_dir)
        )
        if orphans:
            tags["continues_runs"] = ",".join(orphans)
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    tags.update(host=socket.gethostname(), pid=str(os.getpid()))
    with mlflow.start_run(run_name=tracking.run_name, tags=tags) as run:
        mlflow.log_params(run_params(config))
        mlflow.log_dict(dict(config), "config.yaml")
        mlflow.log_dict(data_meta, "data_meta.json")
        try:
            yield run
        except Interrupted as e:  # SIGTERM / Ctrl-C: a clear status, not FAILED
            mlflow.set_tag("stopped_by", signal.Signals(e.signal_number).name)
            mlflow.end_run("KILLED")
            raise
        except Pruned as e:  # a search's pruner stopped a hopeless trial
            mlflow.set_tags({"pruned_at_step": e.step, "pruned_score": e.score})
            mlflow.end_run("KILLED")
            raise
        except KeyboardInterrupt:  # a second Ctrl-C: stopped at once
            mlflow.set_tag("stopped_by", "SIGINT")
            mlflow.end_run("KILLED")
            raise
        except ServerGone:  # closing the run would wait minutes on retries: one quick try
            os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="5")
            with contextlib.suppress(Exception):
                mlflow.end_run("FAILED")
            raise


def log_summary(summary: Mapping[str, float], resumed_from_step: int = 0) -> None:
    """A training run's summary (metrics/train.json) as the run's description, a table the run
    page shows first (not as metrics: one value each would be charted as a curve of one dot),
    and as ``train.json``; the step it resumed from, if it did, as the tag
    ``resumed_from_step``."""
    rows = "\n".join(f"| {k} | {v:,.4g} |" for k, v in summary.items())
    mlflow.set_tag("mlflow.note.content", f"**Training summary**\n\n| | |\n|---|---|\n{rows}\n")
    mlflow.log_dict(dict(summary), "train.json")
    if resumed_from_step:
        mlflow.set_tag("resumed_from_step", resumed_from_step)


def run_reference(run: mlflow.ActiveRun) -> dict[str, str]:
    """What models/train_run.json holds: the run, and the store it is in."""
    return {"run_id": run.info.run_id, "tracking_uri": mlflow.get_tracking_uri()}


def close_orphaned_runs(experiment_name: str, tag: str, value: str) -> list[str]:
    """Mark KILLED the runs of the current experiment left RUNNING with ``tag`` = ``value`` by
    a process of this host that no longer exists (killed with SIGKILL, or the machine lost
    power), so the UI does not show them running forever; returns their ids. Each is tagged
    ``closed_by`` with the calling process's pid."""
    experiment = mlflow.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    runs = mlflow.search_runs(
        [experiment.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.{tag} = '{value}'",
        output_format="list",
    )
    client = mlflow.MlflowClient()
    closed = []
    for run in runs:
        host, pid = run.data.tags.get("host"), run.data.tags.get("pid")
        if host != socket.gethostname() or not pid or process_alive(int(pid)):
            continue
        client.set_tag(run.info.run_id, "closed_by", f"pid {os.getpid()} (its process is gone)")
        client.set_terminated(run.info.run_id, "KILLED")
        closed.append(run.info.run_id)
    return closed


class ServerGone(PipelineError):
    """The tracking server stopped answering and did not come back in time."""


def pip_requirements() -> list[str]:
    """What a logged model needs, named explicitly: MLflow's inference of them reloads the
    model in a subprocess, which takes longer than the logging itself."""
    from importlib.metadata import version

    # Pillow writes the PNG answers of the served generator.
    packages = ("tensorflow", "keras", "mlflow", "numpy", "pillow")
    return [f"{p}=={version(p)}" for p in packages]
