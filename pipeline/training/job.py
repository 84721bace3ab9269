"""One training run set up from its typed settings and prepared data: the conditional choice
made, its checkpoint folder found (by the fingerprint of what shapes the weights) and its
quality probe opened. What the train stage calls; knows nothing of MLflow."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.artifacts import Artifacts
from pipeline.data.prepared import PreparedData
from pipeline.training import loop
from pipeline.training.build import resolve_conditional
from pipeline.training.checkpoints import checkpoint_fingerprint, checkpoint_folder
from pipeline.training.monitor import TrainingObserver
from pipeline.training.probe import QualityProbe
from pipeline.training.settings import GanSettings


@dataclass(frozen=True)
class TrainingJob:
    settings: GanSettings  # with training.conditional resolved (never "auto")
    data: PreparedData
    out: Artifacts
    checkpoint_dir: Path

    @classmethod
    def plan(cls, settings: GanSettings, data: PreparedData, out: Artifacts) -> TrainingJob:
        classes = len(data.meta["class_names"])
        conditional = resolve_conditional(settings.training.conditional, classes)
        settings = dataclasses.replace(
            settings, training=dataclasses.replace(settings.training, conditional=conditional)
        )
        fingerprint = checkpoint_fingerprint(settings.seed, data.meta, settings.weight_sections())
        folder = checkpoint_folder(out.checkpoints, fingerprint, settings.checkpoint.resume)
        return cls(settings, data, out, folder)

    def resolved(self, config: dict[str, Any]) -> dict[str, Any]:
        """The composed config as the run records it: with the choices made here
        (training.conditional true or false, not auto)."""
        training = {**config["training"], "conditional": self.settings.training.conditional}
        return {**config, "training": training}

    @property
    def class_names(self) -> list[str] | None:
        """The classes a conditional generator draws (None: unconditional)."""
        return list(self.data.meta["class_names"]) if self.settings.training.conditional else None

    def run(
        self, observers: Sequence[TrainingObserver] = (), with_probe: bool = False
    ) -> loop.TrainResult:
        """Train (resuming from the checkpoint folder); ``with_probe``: the quality probe on
        (`monitor.probe_every_steps`), which the process that records the run asks for."""
        probe = None
        if with_probe:
            probe = QualityProbe.for_training(self.settings.monitor, self.out.classifier,
                                              self.data.images("test"), self.settings.seed)  # fmt: skip
        return loop.train(
            self.data.images("train"), self.settings, labels=self.data.labels("train"),
            num_classes=len(self.data.meta["class_names"]), checkpoint_dir=self.checkpoint_dir,
            observers=observers, probe=probe,
        )  # fmt: skip
