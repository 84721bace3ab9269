"""What a finished training run leaves: the generator, metrics/train.json, the history and the
quality probe's rows (plots/), the sample sheet and the training curves, in files for DVC and
in the MLflow run."""

from __future__ import annotations

from typing import Any

import keras
import mlflow

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.gan.sampling import sample
from pipeline.io import atomic_path, write_json
from pipeline.tracking import runs
from pipeline.training import history
from pipeline.training.loop import TrainResult
from pipeline.training.probe import QualityProbe
from pipeline.viz import sample_sheet, save_figure, save_png, training_curves_figure


def record_training(
    result: TrainResult, out: Artifacts, run: mlflow.ActiveRun, class_names: list[str] | None
) -> dict[str, Any]:
    """Write and log what ``result`` holds (inside its MLflow ``run``); returns the summary."""
    rows = result.rows  # a resumed run's earlier rows first
    summary = history.summary(result.gan.metric_names, result.history, rows, result.steps,
                              result.seconds, result.probe_rows)  # fmt: skip
    runs.log_summary(summary, resumed_from_step=result.start_step)

    with atomic_path(out.generator) as tmp:
        result.generator.save(tmp)
    write_json(out.train_run, runs.run_reference(run))
    write_json(out.metric(artifacts.TRAIN_METRICS), summary)
    history.write_rows(out.plot(artifacts.TRAIN_HISTORY), rows)
    history.write_rows(out.plot(artifacts.TRAIN_QUALITY), result.probe_rows, QualityProbe.COLUMNS)
    samples = keras.ops.convert_to_numpy(sample(result.generator, result.fixed_noise))
    sheet = sample_sheet(samples, class_names, f"generated after {result.steps:,} steps")
    save_png(sheet, out.plot(artifacts.SAMPLES))
    # The UI's image chart, in a Model metrics section of its own ("Samples"): logged at one
    # step, it opens on that step (a chart of many steps opens on step 0, the noise)
    mlflow.log_image(sheet, key="Samples/generated", step=result.steps)
    if rows:
        figure = training_curves_figure(rows)
        mlflow.log_figure(figure, artifacts.TRAINING_CURVES)
        save_figure(figure, out.plot(artifacts.TRAINING_CURVES))
    # The file, not a logged model: register logs the one model a generator has (the served
    # pyfunc, linked to its registry version)
    mlflow.log_artifact(str(out.generator))
    return summary
