"""Stage `train`: train the configured GAN, track it in MLflow, write the generator and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import DatasetConfig, StageConfig, TrackingConfig, choice, section
from pipeline.data.prepared import load_prepared
from pipeline.data.specs import DATASETS
from pipeline.io import check_writable
from pipeline.tracking import runs as tracking
from pipeline.tracking.observer import MlflowObserver
from pipeline.tracking.training import record_training
from pipeline.training import distribute
from pipeline.training.job import TrainingJob
from pipeline.training.monitor import TrainingObserver
from pipeline.training.settings import GanSettings


@dataclass
class TrainConfig(StageConfig, GanSettings):
    dataset: DatasetConfig = choice(DATASETS)
    tracking: TrackingConfig = section(TrackingConfig)


def train(
    cfg: TrainConfig,
    *,
    parent_run_id: str | None = None,
    observers: Sequence[TrainingObserver] = (),
) -> str:
    """Returns the MLflow run id ("" on a multi-worker run's workers other than the chief, which
    only train). GAN losses say little about quality, so no loss is handed to a sweeper as an
    objective: `pipeline.tune` trains, evaluates and returns the FID. A sweep passes its parent
    run and, for pruning, observers of the training curves."""
    out = Artifacts.from_paths(cfg.paths)
    distribute.strategy(cfg.compute)  # first: TensorFlow's runtime starts with its devices
    check_writable(out.folders("models", "metrics", "plots", "checkpoints"))
    data = load_prepared(out.prepared, dataset=cfg.dataset)
    job = TrainingJob.plan(GanSettings.from_config(cfg), data, out)
    # A multi-worker run's other workers train alongside; the chief writes and records.
    if not distribute.is_chief(cfg.compute):
        print(f"worker done: {job.run().steps} steps; the chief wrote the outputs")
        return ""
    with tracking.training_run(
        cfg.tracking, job.resolved(cfg.resolved), data.meta, job.checkpoint_dir, parent_run_id,
        {"model": cfg.model.name, "loss": cfg.loss.name, "hardware": distribute.hardware()},
    ) as run:  # fmt: skip
        recorder = MlflowObserver(class_names=job.class_names)
        result = job.run([recorder, *observers], with_probe=True)
        recorder.flush(cfg.tracking.wait_for_server_s)  # what waited on a server's outage
        summary = record_training(result, out, run, job.class_names)
    print(
        f"trained {cfg.model.name} for {result.steps} steps in {result.seconds:.0f}s "
        f"({summary['images_per_s']:.0f} images/s); MLflow run {run.info.run_id}"
    )
    return str(run.info.run_id)


SCHEMA = TrainConfig
main = entrypoint(train, SCHEMA)

if __name__ == "__main__":
    main()
