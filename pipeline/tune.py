"""``python -m pipeline.tune``: train, then evaluate, one composed config, and return the score
that a sweeper minimises (``tune.objective``: the FID unless the config names another).

    python -m pipeline.tune experiment=smoke                                    # one run
    python -m pipeline.tune -m experiment=smoke training.generator_lr=1e-4,2e-4 # a sweep
    python -m pipeline.tune -m hydra/launcher=parallel ...                      # 2 jobs at once
    python -m pipeline.tune hparams_search=smoke_optuna experiment=smoke        # Optuna

A sweep is one MLflow parent run with a child run per job (pipeline/sweep.py). Jobs share the
prepared data, the classifier and the real images' features: those at ``paths.*`` are used as
they are (after ``dvc repro``, DVC's); when missing they are made once, under a lock, from the
composed config. Each job writes its models/metrics/plots into its own job folder.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import ClassifierConfig, Section, TuneConfig
from pipeline.data.prepared import META_FILE
from pipeline.errors import PipelineError
from pipeline.io import file_lock, read_json
from pipeline.stages import classifier as classifier_stage
from pipeline.stages import evaluate as evaluate_stage
from pipeline.stages import prepare as prepare_stage
from pipeline.stages import train as train_stage
from pipeline.sweep import parent_run_id
from pipeline.training.monitor import TrainingObserver

SECTIONS: dict[str, Section] = {
    **train_stage.SECTIONS,
    **evaluate_stage.SECTIONS,
    "evaluation.classifier": ClassifierConfig,
    "tune": TuneConfig,
}


def train_then_evaluate(
    cfg: DictConfig,
    parent_run_id: str | None = None,
    observers: Sequence[TrainingObserver] = (),
) -> float:
    """One job of a sweep (or a trial of a search): its score, lower is better."""
    ensure_shared_inputs(cfg)
    train_stage.train(cfg, parent_run_id=parent_run_id, observers=observers)
    evaluate_stage.evaluate(cfg)
    scores = read_json(Artifacts.from_paths(cfg.paths).metric(artifacts.EVAL_METRICS))
    return float(scores[cfg.tune.objective])


def ensure_shared_inputs(cfg: DictConfig) -> None:
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


def tune(cfg: DictConfig) -> float:
    if cfg.get("hparams_search"):
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise PipelineError(
                "an Optuna search (hparams_search=...) runs its own trials, not a Hydra multirun",
                "drop -m (or drop hparams_search= to sweep the values given on the command line)",
            )
        from pipeline.search import search

        return search(cfg, train_then_evaluate, SECTIONS)
    return train_then_evaluate(cfg, parent_run_id=parent_run_id())


main = entrypoint(tune, SECTIONS, config_name="tune")

if __name__ == "__main__":
    main()
