"""Optuna search: ``python -m pipeline.tune hparams_search=<preset> [overrides]``.

A small driver on Optuna's own API (hydra-optuna-sweeper pins optuna<3): every trial sets the
preset's keys on the composed config, runs the same objective as a Hydra sweep's job
(`objective.py`), and is an MLflow child run of the search's parent run (`record.py`). The
quality probe's FID during training is the intermediate score that prunes hopeless trials.

Optuna keeps its study in its own storage (``hparams_search.storage``; by default
``optuna.db`` at the repo root), not in the MLflow database: running the same preset again
continues the study with ``n_trials`` more trials.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from pipeline.artifacts import per_job_outputs
from pipeline.config import SearchConfig, flatten, section, validate
from pipeline.errors import PipelineError, Pruned
from pipeline.io import repo_root
from pipeline.sweeps.objective import Objective, TuneStageConfig


def storage_url(storage: str | None) -> str:
    return storage or f"sqlite:///{repo_root() / 'optuna.db'}"


def suggest(trial: Any, key: str, spec: Mapping[str, Any]) -> Any:
    """A value for ``key`` from its search space: {low, high[, log, step]} or {choices}.
    Choices that are lists (layer widths) are searched as their YAML text."""
    if "choices" in spec:
        choices = list(spec["choices"])
        if any(isinstance(c, list | dict) for c in choices):
            text = trial.suggest_categorical(
                key, [yaml.safe_dump(c, default_flow_style=True).strip() for c in choices]
            )
            return yaml.safe_load(text)
        return trial.suggest_categorical(key, choices)
    if {"low", "high"} <= set(spec):
        low, high = spec["low"], spec["high"]
        if isinstance(low, int) and isinstance(high, int) and not spec.get("log_float"):
            return trial.suggest_int(
                key, low, high, step=spec.get("step", 1), log=spec.get("log", False)
            )
        return trial.suggest_float(key, float(low), float(high), log=spec.get("log", False))
    raise PipelineError(
        f"hparams_search.params.{key} is {dict(spec)}: not a search space",
        "give {low: .., high: ..} (add log: true for rates) or {choices: [..]}",
    )


class PruningObserver:
    """Reports the quality probe's FID to the trial; stops a hopeless one (raises Pruned)."""

    def __init__(self, trial: Any, enabled: bool) -> None:
        self.trial, self.enabled = trial, enabled

    def on_metrics(self, metrics: dict[str, float], step: int) -> None:
        value = metrics.get("probe_fid")
        if value is None or not math.isfinite(value):
            return
        self.trial.report(value, step)
        if self.enabled and self.trial.should_prune():
            raise Pruned(step, value)

    def on_samples(self, images: np.ndarray, step: int) -> None:
        pass


@dataclass
class SearchHolder:
    hparams_search: SearchConfig = section(SearchConfig)


def search(cfg: TuneStageConfig, objective: Objective, schema: type[TuneStageConfig]) -> float:
    """Run the study of ``hparams_search``; returns the best trial's score. Each trial's config
    (the composed one with the trial's values) is validated against ``schema``."""
    import optuna

    from pipeline.sweeps.record import SweepRecord
    from pipeline.tracking.names import run_name

    composed = OmegaConf.create(cfg.resolved)
    s = validate(composed, SearchHolder).hparams_search
    known = set(flatten(composed))
    for key in s.params:
        if key not in known:
            raise PipelineError(
                f"hparams_search.params names {key}, which the config does not have",
                "use dotted keys of the composed config (`--cfg job` prints them)",
            )
    base_overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    out_root = (
        Path(HydraConfig.get().runtime.output_dir)
        if HydraConfig.initialized()
        else Path(cfg.paths.models).parent
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(
            n_startup_trials=s.pruner.startup_trials, n_warmup_steps=s.pruner.warmup_steps
        )
        if s.pruner.enabled
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=s.study_name,
        storage=storage_url(s.storage),
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=s.sampler_seed),
        pruner=pruner,
        load_if_exists=True,
    )
    record = SweepRecord.start(
        cfg.tracking,
        name=f"optuna {s.study_name} {run_name(composed, base_overrides)}",
        params={
            "sweep.overrides": " ".join(base_overrides),
            "sweep.sweeper": f"optuna {optuna.__version__} TPESampler(seed={s.sampler_seed})",
            "sweep.pruner": type(pruner).__name__,
            "sweep.n_trials": s.n_trials,
            "sweep.storage": storage_url(s.storage),
            "sweep.study_name": s.study_name,
            "sweep.space": yaml.safe_dump(s.params, default_flow_style=True).strip(),
            "tune.objective": cfg.tune.objective,
        },
        swept=list(s.params),
        objective=cfg.tune.objective,
        kind="optuna",
    )

    def run_trial(trial: optuna.Trial) -> float:
        values = {key: suggest(trial, key, spec) for key, spec in s.params.items()}
        trial_cfg = composed.copy()
        for key, value in values.items():
            OmegaConf.update(trial_cfg, key, value, merge=False)
        per_job_outputs(trial_cfg, out_root / f"trial_{trial.number}")
        shown = [f"{k}={_short(v)}" for k, v in values.items()]
        trial_cfg.tracking.run_name = f"trial {trial.number} " + run_name(
            trial_cfg, [*base_overrides, *shown]
        )
        try:
            return objective(
                validate(trial_cfg, schema),
                record.run_id,
                [PruningObserver(trial, s.pruner.enabled)],
            )
        except Pruned as e:
            print(f"trial {trial.number} {e}")
            raise optuna.TrialPruned(str(e)) from None

    status = "FAILED"
    try:
        study.optimize(run_trial, n_trials=s.n_trials, catch=(PipelineError,))
        status = "FINISHED"
    finally:
        record.finish(status)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise PipelineError(
            f"no trial of study {s.study_name} finished", "read the trials' errors above"
        )
    print(
        f"optuna: best trial {study.best_trial.number}: {cfg.tune.objective} {study.best_value:.3f} with {study.best_params}"
    )
    return float(study.best_value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value).replace(" ", "")
