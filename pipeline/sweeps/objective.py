"""The objective of a sweep: train, then evaluate, one composed config and return the score
that a sweeper minimises (``tune.objective``: the FID unless the config names another).

Jobs share the prepared data, the classifier and the real images' features: those at
``paths.*`` are used as they are (after ``dvc repro``, DVC's); when missing they are made once,
under a lock, from the composed config.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.config import TuneConfig, section
from pipeline.data.prepared import META_FILE
from pipeline.errors import PipelineError
from pipeline.evaluation.catalog import OBJECTIVES
from pipeline.io import file_lock, read_json
from pipeline.stages import classifier as classifier_stage
from pipeline.stages import evaluate as evaluate_stage
from pipeline.stages import prepare as prepare_stage
from pipeline.stages import train as train_stage
from pipeline.training.monitor import TrainingObserver


@dataclass
class TuneStageConfig(
    train_stage.TrainConfig,
    evaluate_stage.EvaluateConfig,
    classifier_stage.ClassifierStageConfig,
    prepare_stage.PrepareConfig,
):
    """What a job of a sweep reads: every stage's sections, and the objective."""

    tune: TuneConfig = section(TuneConfig)


# (config, the sweep's parent run, observers of training) -> the score, lower is better
Objective = Callable[[TuneStageConfig, str | None, Sequence[TrainingObserver]], float]


def train_then_evaluate(
    cfg: TuneStageConfig,
    parent_run_id: str | None = None,
    observers: Sequence[TrainingObserver] = (),
) -> float:
    """One job of a sweep (or a trial of a search): its score, lower is better."""
    ensure_shared_inputs(cfg)
    train_stage.train(cfg, parent_run_id=parent_run_id, observers=observers)
    evaluate_stage.evaluate(cfg)
    scores = read_json(Artifacts.from_paths(cfg.paths).metric(artifacts.EVAL_METRICS))
    return float(scores[cfg.tune.objective])


def check_objective(key: str) -> None:
    """`tune.objective` names a score of the metric catalog that a sweep may minimise."""
    if key not in OBJECTIVES:
        raise PipelineError(
            f"tune.objective={key} is not a score a sweep can minimise",
            f"use one of {', '.join(OBJECTIVES)} (pipeline/evaluation/catalog.py)",
        )


def ensure_shared_inputs(cfg: TuneStageConfig) -> None:
    """Prepared data and the classifier at ``paths.*``, made once if missing: parallel jobs
    wait on a lock rather than each making their own."""
    out = Artifacts.from_paths(cfg.paths)
    with file_lock(out.cache / "shared-inputs.lock"):
        if not (out.prepared / META_FILE).is_file():
            print(f"tune: no prepared data in {out.prepared}: running prepare once")
            prepare_stage.prepare(cfg)
        if not out.classifier.is_file():
            print(f"tune: no classifier at {out.classifier}: training it once")
            classifier_stage.classifier(cfg)
