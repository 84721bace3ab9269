"""Stage `train`: train the configured GAN, track it in MLflow, write the generator and metrics."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import keras
import mlflow
from omegaconf import DictConfig

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import (
    Choice,
    ChoiceMap,
    DatasetConfig,
    Section,
    TrackingConfig,
    TrainingConfig,
)
from pipeline.data.prepared import load_prepared
from pipeline.gan.losses import LOSSES
from pipeline.gan.regularizers import REGULARIZERS
from pipeline.gan.sampling import sample
from pipeline.io import atomic_path, check_writable, write_json
from pipeline.models import MODELS
from pipeline.tracking import runs as tracking
from pipeline.tracking.observer import MlflowObserver
from pipeline.training import distribute, history, loop
from pipeline.training.build import GanSettings, resolve_conditional
from pipeline.training.checkpoints import checkpoint_fingerprint, checkpoint_folder
from pipeline.training.monitor import TrainingObserver
from pipeline.training.probe import QualityProbe
from pipeline.viz import sample_sheet, save_figure, save_png, training_curves_figure

SECTIONS: dict[str, Section] = {
    "dataset": DatasetConfig,
    "model": Choice(MODELS),
    "loss": Choice(LOSSES),
    "regularizers": ChoiceMap(REGULARIZERS),
    "training": TrainingConfig,
    "tracking": TrackingConfig,
}


def train(
    cfg: DictConfig,
    *,
    parent_run_id: str | None = None,
    observers: Sequence[TrainingObserver] = (),
) -> str:
    """Returns the MLflow run id ("" on a multi-worker run's workers other than the chief, which
    only train). GAN losses say little about quality, so no loss is handed to a sweeper as an
    objective: `pipeline.tune` trains, evaluates and returns the FID. A sweep passes its parent
    run and, for pruning, observers of the training curves."""
    out = Artifacts.from_paths(cfg.paths)
    distribute.strategy(cfg.training)  # first: TensorFlow's runtime starts with its devices
    check_writable(out.folders("models", "metrics", "plots", "checkpoints"))
    data = load_prepared(out.prepared, dataset=cfg.dataset)
    cfg.training.conditional = resolve_conditional(
        cfg.training.conditional, len(data.meta["class_names"])
    )
    settings = GanSettings.from_config(cfg)
    fingerprint = checkpoint_fingerprint(seed=cfg.seed, data_meta=data.meta, **settings.sections())
    checkpoint_dir = checkpoint_folder(out.checkpoints, fingerprint, cfg.training.resume)
    run_training = functools.partial(
        loop.train, data.images("train"), settings, labels=data.labels("train"),
        num_classes=len(data.meta["class_names"]), checkpoint_dir=checkpoint_dir,
    )  # fmt: skip
    # A multi-worker run's other workers train alongside; the chief writes and records.
    if not distribute.is_chief(cfg.training):
        steps = run_training().steps
        print(f"worker done: {steps} steps; the chief wrote the outputs")
        return ""
    probe = QualityProbe.for_training(cfg.training, out.classifier, data.images("test"), cfg.seed)

    class_names = list(data.meta["class_names"]) if cfg.training.conditional else None
    with tracking.training_run(
        cfg, data.meta, checkpoint_dir, parent_run_id, hardware=distribute.hardware()
    ) as run:
        recorder = MlflowObserver(class_names=class_names)
        result = run_training(observers=[recorder, *observers], probe=probe)
        recorder.flush(cfg.tracking.wait_for_server_s)  # what waited on a server's outage
        rows = result.rows  # a resumed run's earlier rows first
        summary = history.summary(result.gan.metric_names, result.history, rows, result.steps,
                                  result.seconds, result.probe_rows)  # fmt: skip
        tracking.log_summary(summary, resumed_from_step=result.start_step)

        with atomic_path(out.generator) as tmp:
            result.generator.save(tmp)
        write_json(out.train_run, tracking.run_reference(run))
        write_json(out.metric(artifacts.TRAIN_METRICS), summary)
        history.write_rows(out.plot(artifacts.TRAIN_HISTORY), rows)
        history.write_rows(
            out.plot(artifacts.TRAIN_QUALITY), result.probe_rows, QualityProbe.COLUMNS
        )
        samples = keras.ops.convert_to_numpy(sample(result.generator, result.fixed_noise))
        sheet = sample_sheet(samples, class_names, f"generated after {result.steps:,} steps")
        save_png(sheet, out.plot(artifacts.SAMPLES))
        # The UI's image chart, in a Model metrics section of its own ("Samples"): logged at
        # one step, it opens on that step (a chart of many steps opens on step 0, the noise)
        mlflow.log_image(sheet, key="Samples/generated", step=result.steps)
        if rows:
            figure = training_curves_figure(rows)
            mlflow.log_figure(figure, artifacts.TRAINING_CURVES)
            save_figure(figure, out.plot(artifacts.TRAINING_CURVES))
        # The file, not a logged model: register logs the one model a generator has (the
        # served pyfunc, linked to its registry version)
        mlflow.log_artifact(str(out.generator))
    print(
        f"trained {cfg.model.name} for {result.steps} steps in {result.seconds:.0f}s "
        f"({summary['images_per_s']:.0f} images/s); MLflow run {run.info.run_id}"
    )
    return run.info.run_id


main = entrypoint(train, SECTIONS)

if __name__ == "__main__":
    main()
