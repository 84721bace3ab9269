"""The Hydra callback (conf/tune.yaml registers it): a parent MLflow run around a multirun's
jobs (`record.SweepRecord`)."""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from pipeline.config import TrackingConfig, TuneConfig, section, validate
from pipeline.sweeps.record import PARENT_ENV, SweepRecord


@dataclass
class SweepConfig:
    """What the parent run of a sweep reads from the composed config."""

    tracking: TrackingConfig = section(TrackingConfig)
    tune: TuneConfig = section(TuneConfig)


def swept_keys(overrides: Sequence[str]) -> list[str]:
    """The keys of a command line's sweep overrides (``training.generator_lr=1e-4,2e-4``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return [o.get_key_element() for o in parsed if o.is_sweep_override()]


class SweepCallback(Callback):
    """Hydra callback (conf/tune.yaml): a parent MLflow run around a multirun's jobs."""

    def __init__(self) -> None:
        self.record: SweepRecord | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from pipeline.tracking.names import run_name

        overrides = list(config.hydra.overrides.task)
        hydra = config.hydra  # Hydra's own settings, not ours
        # the two sections only: the whole config holds Hydra's own ${hydra:...} interpolations
        sweep = validate({"tracking": config.tracking, "tune": config.tune}, SweepConfig)
        settings = {
            "sweep.overrides": " ".join(overrides),
            "sweep.sweeper": hydra.sweeper.get("_target_", ""),
            "sweep.launcher": hydra.launcher.get("_target_", ""),
            "sweep.n_jobs": hydra.launcher.get("n_jobs", 1),
            "tune.objective": sweep.tune.objective,
        }
        self.record = SweepRecord.start(
            sweep.tracking,
            name=f"sweep {run_name(config, overrides)}",
            params=settings,
            swept=swept_keys(overrides),
            objective=sweep.tune.objective,
            kind="hydra",
        )
        os.environ[PARENT_ENV] = self.record.run_id
        # A job that fails ends the multirun without on_multirun_end: the parent still gets
        # its table of the jobs so far and ends FAILED rather than RUNNING for ever.
        atexit.register(self._end, "FAILED")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._end("FINISHED")

    def _end(self, status: str) -> None:
        record, self.record = self.record, None
        if record is not None:
            record.finish(status)
            os.environ.pop(PARENT_ENV, None)
