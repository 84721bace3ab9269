"""Stage `train`: train the configured GAN, track it in MLflow, write the generator and metrics."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import keras
import mlflow
import numpy as np
from omegaconf import DictConfig

from pipeline import tracking, training
from pipeline.cli import entrypoint
from pipeline.data.prepared import load_prepared
from pipeline.io import atomic_path, write_json
from pipeline.viz import image_grid, save_png, training_curves_figure

GENERATOR_FILE = "generator.keras"
RUN_FILE = "train_run.json"  # which MLflow run trained models/generator.keras


def train(cfg: DictConfig) -> str:
    """Returns the MLflow run id. GAN losses say little about quality, so no loss is handed to
    a Hydra sweeper as an objective; `evaluate` returns the FID for that."""
    data = load_prepared(cfg.paths.prepared, expected_dataset=cfg.dataset.name)
    images = data.images("train")
    fingerprint = training.checkpoint_fingerprint(cfg, data.meta["checksum"])
    checkpoint_dir = Path(cfg.paths.checkpoints) / fingerprint
    if not cfg.training.resume and checkpoint_dir.exists():
        checkpoint_dir = checkpoint_dir.with_name(f"{fingerprint}-{os.getpid()}")

    with tracking.training_run(cfg, data.meta) as run:
        mlflow.set_tag("checkpoint_dir", str(checkpoint_dir))
        result = training.train(cfg, images, [tracking.MlflowObserver()], checkpoint_dir)
        rows = _history_with_resumed(checkpoint_dir / "history.csv", result)
        if result.start_step:
            mlflow.set_tag("resumed_from_step", result.start_step)
        summary = _summary(result, rows)
        mlflow.log_metrics({f"final_{k}": v for k, v in summary.items()}, step=result.steps)
        _write_outputs(cfg, result, rows, summary, run.info.run_id)
        _log_artifacts(cfg, result, rows)
    print(
        f"trained {cfg.model.name} for {result.steps} steps in {result.seconds:.0f}s "
        f"({summary['images_per_s']:.0f} images/s); MLflow run {run.info.run_id}"
    )
    return run.info.run_id


CSV_COLUMNS = ["step", *training.METRIC_NAMES, "images_per_s"]


def _history_with_resumed(path: Path, result: training.TrainResult) -> list[dict[str, float]]:
    """Interval rows of this session, preceded by those of earlier sessions up to the checkpoint
    this one resumed from; saved beside the checkpoints for the next resume."""
    earlier = []
    if result.start_step and path.is_file():
        with open(path, newline="") as f:
            earlier = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        earlier = [r for r in earlier if r["step"] <= result.start_step]
    rows = earlier + result.rows
    _write_csv(path, rows)
    return rows


def _write_csv(path: Path, rows: list[dict[str, float]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({**r, "step": int(r["step"])} for r in rows)


def _summary(result: training.TrainResult, rows: list[dict[str, float]]) -> dict[str, float]:
    last_epoch = {k: v[-1] for k, v in result.history.items() if v}
    if not last_epoch and rows:  # resumed a finished run: nothing new was trained
        last_epoch = {k: rows[-1][k] for k in training.METRIC_NAMES}
    return {
        **{k: float(last_epoch[k]) for k in training.METRIC_NAMES},
        "images_per_s": training.steady_images_per_s(rows) or 0.0,
        "steps": float(result.steps),
        "train_seconds": result.seconds,
    }


def _write_outputs(cfg: DictConfig, result, rows, summary: dict, run_id: str) -> None:
    models, metrics, plots = (Path(cfg.paths[k]) for k in ("models", "metrics", "plots"))
    with atomic_path(models / GENERATOR_FILE) as tmp:
        result.gan.generator.save(tmp)
    write_json(models / RUN_FILE, {"run_id": run_id, "tracking_uri": mlflow.get_tracking_uri()})
    write_json(metrics / "train.json", summary)
    _write_csv(plots / "train_metrics.csv", rows)
    samples = result.gan.generator(result.fixed_noise, training=False)
    save_png(image_grid(keras.ops.convert_to_numpy(samples)), plots / "samples.png")


def _log_artifacts(cfg: DictConfig, result, rows) -> None:
    plots = Path(cfg.paths.plots)
    mlflow.log_artifact(str(plots / "samples.png"))
    if rows:
        figure = training_curves_figure(rows)
        mlflow.log_figure(figure, "training_curves.png")
        with atomic_path(plots / "training_curves.png") as tmp:
            figure.savefig(tmp)
    generator = result.gan.generator
    noise = result.fixed_noise[:2]
    signature = mlflow.models.infer_signature(
        noise, np.asarray(keras.ops.convert_to_numpy(generator(noise, training=False)))
    )
    mlflow.keras.log_model(
        generator,
        name="generator",
        signature=signature,
        pip_requirements=pip_requirements(),
    )


def pip_requirements() -> list[str]:
    """What a logged model needs, named explicitly: MLflow's inference of them reloads the
    model in a subprocess, which takes longer than the logging itself."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("tensorflow", "keras", "mlflow", "numpy")]


main = entrypoint(train)

if __name__ == "__main__":
    main()
