"""MLflow: where runs go, what every run records, and an observer that streams training to it."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
import mlflow.exceptions
import numpy as np
from omegaconf import DictConfig, OmegaConf

from pipeline.config import repo_root, tracking_uri
from pipeline.errors import PipelineError
from pipeline.viz import image_grid

# MLflow's own chatter (alembic migrations, "run ... started") drowns the training output.
for _name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def flatten(cfg: DictConfig) -> dict[str, str]:
    """The resolved config as dotted MLflow params ("training.epochs" -> "5")."""
    flat: dict[str, str] = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            flat[prefix[:-1]] = str(node)

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat


def git_commit(path: Path | None = None) -> str:
    """HEAD's hash, with "-dirty" when tracked files have uncommitted changes."""
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


def artifact_location(uri: str, experiment_name: str) -> str | None:
    """Beside an SQLite store, in mlartifacts/. MLflow's default is ./mlruns relative to the
    working directory, which for DVC's queued experiments is a copy that is thrown away.
    A tracking server decides for itself (None)."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    return (db.parent / "mlartifacts" / experiment_name).as_uri()


def configure(tracking: Mapping[str, Any]) -> str:
    """Point MLflow at the configured store and experiment (created if new); return the URI."""
    uri = tracking_uri(tracking)
    mlflow.set_tracking_uri(uri)
    name = tracking["experiment_name"]
    try:
        if mlflow.get_experiment_by_name(name) is None:
            with contextlib.suppress(mlflow.exceptions.MlflowException):  # created meanwhile
                mlflow.create_experiment(name, artifact_location=artifact_location(uri, name))
        mlflow.set_experiment(name)
    except Exception as e:  # MlflowException, connection errors, SQLAlchemy errors
        raise PipelineError(
            f"cannot reach the MLflow tracking store {uri}: {e}",
            "start the server, fix MLFLOW_TRACKING_URI / tracking.uri, or unset it to use "
            "the SQLite file at the repo root",
        ) from None
    return uri


@contextlib.contextmanager
def training_run(cfg: DictConfig, data_meta: Mapping[str, Any]) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run with the full resolved config, the git commit and the data checksum."""
    configure(cfg.tracking)
    tags = {
        "git_commit": git_commit(),
        "dataset": data_meta["dataset"],
        "dataset_checksum": data_meta["checksum"],
        "model": cfg.model.name,
        "loss": cfg.loss.name,
        "stage": "train",
    }
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_experiment"] = os.environ["DVC_EXP_NAME"]
    with mlflow.start_run(run_name=cfg.tracking.run_name, tags=tags) as run:
        mlflow.log_params(flatten(cfg))
        mlflow.log_dict(OmegaConf.to_container(cfg, resolve=True), "config.yaml")
        mlflow.log_dict(data_meta, "data_meta.json")
        yield run


class MlflowObserver:
    """Streams interval metrics and sample grids of a training run to the active MLflow run."""

    def on_metrics(self, metrics: dict[str, float], step: int) -> None:
        mlflow.log_metrics(metrics, step=step)

    def on_samples(self, images: np.ndarray, step: int) -> None:
        mlflow.log_image(image_grid(images), key="samples", step=step)


def pip_requirements() -> list[str]:
    """What a logged model needs, named explicitly: MLflow's inference of them reloads the
    model in a subprocess, which takes longer than the logging itself."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("tensorflow", "keras", "mlflow", "numpy")]


def log_generator(generator: Any, noise: np.ndarray) -> None:
    """The generator as an MLflow Keras model of the active run, with its signature (noise, or
    noise and label for a conditional generator)."""
    import keras

    from pipeline.gan.sampling import cycled_labels, num_classes

    classes = num_classes(generator)
    inputs: Any = noise
    if classes:
        inputs = {"noise": noise, "label": cycled_labels(len(noise), classes)}
    output = np.asarray(keras.ops.convert_to_numpy(generator(inputs, training=False)))
    mlflow.keras.log_model(
        generator,
        name="generator",
        signature=mlflow.models.infer_signature(inputs, output),
        pip_requirements=pip_requirements(),
    )


def log_evaluation(
    tracking: Mapping[str, Any],
    run_id: str | None,
    result: Mapping[str, Any],
    files: Iterable[Path],
) -> None:
    """Scores into the run that trained the generator (a run of its own if that is unknown),
    so that the MLflow UI compares training runs by FID."""
    configure(tracking)
    with mlflow.start_run(run_id=run_id, tags=None if run_id else {"stage": "evaluate"}):
        flat = {k: v for k, v in result.items() if isinstance(v, int | float)}
        flat.update({f"floor_{k}": v for k, v in result["floor"].items()})
        mlflow.log_metrics(flat)
        mlflow.set_tags({f"protocol.{k}": str(v) for k, v in result["protocol"].items()})
        mlflow.log_dict(dict(result), "evaluation/eval.json")
        for path in files:
            mlflow.log_artifact(str(path), "evaluation")
