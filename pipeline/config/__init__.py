"""Typed configuration: each stage's settings as dataclasses, validated once from what Hydra (or
DVC's params.yaml) hands the stage, then passed down typed.

    schema.py     the machinery: ``setting()``, ``choice()``, ``validate(cfg, StageSchema)``
    sections.py   the sections every stage may read (paths, tracking, evaluation, ...)
    training.py   what a training run reads, split by concern: training (schedule and
                  optimiser), augment, compute, checkpoint, monitor; which of them change the
                  weights (the checkpoint fingerprint); and the keys that moved out of training

Defaults live in ``conf/`` only: a schema holds types and ranges, never a second default.
Plug-ins (models, losses, regularizers, dataset sources) declare their own section schemas
next to their code and register them in their catalog (pipeline.plugins).
"""

from pipeline.config.schema import (
    CONF_DIR,
    choice,
    choice_map,
    flatten,
    section,
    setting,
    settings_of,
    validate,
)
from pipeline.config.sections import (
    ClassifierConfig,
    DatasetConfig,
    EvaluationConfig,
    GenerateConfig,
    LossConfig,
    ModelConfig,
    PathsConfig,
    PrunerConfig,
    RegistryConfig,
    SearchConfig,
    StageConfig,
    TrackingConfig,
    TuneConfig,
    UtilityConfig,
)
from pipeline.config.training import (
    AugmentConfig,
    CheckpointConfig,
    ComputeConfig,
    MonitorConfig,
    TrainingConfig,
    weight_settings,
)

__all__ = [
    "CONF_DIR", "AugmentConfig", "CheckpointConfig", "ClassifierConfig", "ComputeConfig",
    "DatasetConfig",
    "EvaluationConfig", "GenerateConfig", "LossConfig", "ModelConfig", "MonitorConfig",
    "PathsConfig", "PrunerConfig", "RegistryConfig", "SearchConfig", "StageConfig",
    "TrackingConfig", "TrainingConfig", "TuneConfig", "UtilityConfig", "choice", "choice_map",
    "flatten", "section", "setting", "settings_of", "validate", "weight_settings",
]  # fmt: skip
