"""What a training run is made of, as one typed object: the schema a stage validates the
composed config against, and what `build` and `loop` take. Free of TensorFlow, so that
validating a config stays fast."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline.config import (
    AugmentConfig,
    CheckpointConfig,
    ComputeConfig,
    LossConfig,
    ModelConfig,
    MonitorConfig,
    TrainingConfig,
    choice,
    choice_map,
    section,
    setting,
    settings_of,
    weight_settings,
)
from pipeline.gan.losses import LOSSES
from pipeline.gan.regularizers import REGULARIZERS
from pipeline.models import MODELS


@dataclass
class GanSettings:
    """What a run trains, as the typed sections `pipeline.config.validate` returns: the schema
    of the settings a GAN is built and trained from (the train stage's adds the data and
    tracking)."""

    model: ModelConfig = choice(MODELS)
    loss: LossConfig = choice(LOSSES)
    regularizers: dict[str, Any] = choice_map(REGULARIZERS)  # name -> its schema's settings
    training: TrainingConfig = section(TrainingConfig)
    augment: AugmentConfig = section(AugmentConfig)
    compute: ComputeConfig = section(ComputeConfig)
    checkpoint: CheckpointConfig = section(CheckpointConfig)
    monitor: MonitorConfig = section(MonitorConfig)
    seed: int = setting()

    @classmethod
    def from_config(cls, cfg: GanSettings) -> GanSettings:
        """These sections of a larger validated config (a stage's)."""
        return cls(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls)})

    def weight_sections(self) -> dict[str, Any]:
        """What of these settings shapes the weights (the checkpoint fingerprint's input):
        everything of the model, loss and terms, and the marked fields of the rest."""
        return {
            "model": settings_of(self.model), "loss": settings_of(self.loss),
            "regularizers": {n: settings_of(s) for n, s in self.regularizers.items()},
            **{name: weight_settings(getattr(self, name))
               for name in ("training", "augment", "compute")},
        }  # fmt: skip
