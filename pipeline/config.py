"""Typed configuration: dataclass schemas that validate what Hydra (or DVC's params.yaml) hands us.

The YAML in ``conf/`` stays plain so that DVC can compose it without importing this package;
every entry point validates the composed config against these schemas before touching any file,
so a wrong type or an unknown key fails early with a message that names it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pipeline.errors import PipelineError

DATASETS = ("fashion_mnist", "mnist", "cifar10", "image_folder")


@dataclass
class DatasetConfig:
    name: str = "fashion_mnist"
    # A folder holding the raw files (or, for image_folder, the images); null: data/raw/<name>.
    raw_dir: str | None = None
    # Base URL of a mirror to download from instead of the official one (same file names).
    mirror: str | None = None
    download: bool = True
    # Keep only the first N images of each split: for smoke runs and demos.
    limit: int | None = None
    # image_folder only: images are resized to image_size x image_size with `channels` channels.
    image_size: int = 64
    channels: int = 3
    test_fraction: float = 0.1


@dataclass
class MlpConfig:
    name: str = "mlp"
    latent_dim: int = 100
    generator_units: list[int] = field(default_factory=lambda: [256, 512, 1024])
    discriminator_units: list[int] = field(default_factory=lambda: [512, 256])
    batch_norm_momentum: float = 0.8
    leaky_relu_slope: float = 0.2


@dataclass
class DcganConfig:
    name: str = "dcgan"
    latent_dim: int = 100
    # Width of the generator's transposed convolutions.
    generator_filters: int = 128
    generator_batch_norm: bool = False
    # The CIFAR-10 tutorial's discriminator: 3x3 convolutions, the first unstrided.
    discriminator_filters: list[int] = field(default_factory=lambda: [64, 128, 128, 256])
    dropout: float = 0.4
    leaky_relu_slope: float = 0.2


MODELS: dict[str, type] = {"mlp": MlpConfig, "dcgan": DcganConfig}


@dataclass
class TrainingConfig:
    epochs: int = 5
    batch_size: int = 128
    # null: one full pass over the training set per epoch.
    steps_per_epoch: int | None = None
    generator_lr: float = 2e-4
    discriminator_lr: float = 2e-4
    beta_1: float = 0.5
    jit_compile: bool = False
    # Bit-for-bit repeatable kernels (tf.config.experimental.enable_op_determinism).
    deterministic: bool = True
    checkpoint_every_steps: int = 200
    resume: bool = True
    log_every_steps: int = 20
    sample_every_steps: int = 200
    num_samples: int = 64


@dataclass
class TrackingConfig:
    # null: $MLFLOW_TRACKING_URI if set, else sqlite:///<repo root>/mlflow.db
    uri: str | None = None
    experiment_name: str = "gan-pipeline"
    run_name: str | None = None


@dataclass
class ClassifierConfig:
    """The feature extractor's training (a small CNN on the real training split)."""

    epochs: int = 6
    batch_size: int = 128
    learning_rate: float = 1e-3
    feature_dim: int = 128


@dataclass
class EvaluationConfig:
    num_generated: int = 10000
    num_real: int = 10000  # from the test split
    batch_size: int = 1000
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    memorisation_samples: int = 1000
    seed: int = 0  # of the noise behind the generated set
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)


@dataclass
class RegistryConfig:
    model_name: str = "gan-generator"
    # Largest num_images one request to the served model may ask for.
    max_images: int = 1024


@dataclass
class GenerateConfig:
    # null: the registry's champion, models:/<registry.model_name>@champion
    model_uri: str | None = None
    num_images: int = 64
    seed: int = 0
    format: str = "grid"  # grid (one PNG), folder (one PNG per image) or npz
    output: str | None = None  # null: generated/samples.png, generated/samples/, .npz


@dataclass
class PathsConfig:
    raw: str = "data/raw"
    prepared: str = "data/prepared"
    models: str = "models"
    metrics: str = "metrics"
    plots: str = "plots"
    checkpoints: str = "checkpoints"
    classifier: str = "classifier"
    # Real-data features for evaluation, keyed by protocol; safe to delete.
    cache: str = ".cache"


@dataclass
class Config:
    seed: int = 42
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: Any = None  # one of MODELS, chosen by model.name
    training: TrainingConfig = field(default_factory=TrainingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)


def validate(cfg: DictConfig | dict) -> DictConfig:
    """Merge ``cfg`` into the schema; raise PipelineError naming the bad key and value."""
    raw = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    model = raw.get("model")
    model_name = model.get("name") if isinstance(model, DictConfig) else None
    if model_name not in MODELS:
        raise PipelineError(
            f"unknown model {model_name!r}; choose one of: {', '.join(MODELS)}",
            "pass model=<name> (Hydra) or -S model=<name> (dvc exp run)",
        )
    dataset_name = raw.get("dataset", {}).get("name", DatasetConfig.name)
    if dataset_name not in DATASETS:
        raise PipelineError(
            f"unknown dataset {dataset_name!r}; choose one of: {', '.join(DATASETS)}",
            "pass dataset=<name>; your own images: dataset=image_folder dataset.raw_dir=<folder>",
        )
    schema = OmegaConf.structured(Config)
    schema.model = OmegaConf.structured(MODELS[model_name])
    try:
        merged = OmegaConf.merge(schema, raw)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "?"
        raise PipelineError(
            f"invalid configuration value for '{key}': {e.msg if hasattr(e, 'msg') else e}",
            "check the override's spelling and type against conf/ (e.g. training.epochs=3)",
        ) from None
    _check_ranges(merged)
    return merged


def _check_ranges(cfg: DictConfig) -> None:
    checks = [
        (cfg.training.epochs >= 1, "training.epochs", "at least 1"),
        (cfg.training.batch_size >= 1, "training.batch_size", "at least 1"),
        (
            cfg.training.steps_per_epoch is None or cfg.training.steps_per_epoch >= 1,
            "training.steps_per_epoch",
            "null or at least 1",
        ),
        (cfg.training.checkpoint_every_steps >= 1, "training.checkpoint_every_steps", ">= 1"),
        (cfg.training.log_every_steps >= 1, "training.log_every_steps", ">= 1"),
        (cfg.training.sample_every_steps >= 1, "training.sample_every_steps", ">= 1"),
        (cfg.training.num_samples >= 1, "training.num_samples", "at least 1"),
        (cfg.dataset.limit is None or cfg.dataset.limit >= 1, "dataset.limit", "null or >= 1"),
        (cfg.dataset.channels in (1, 3), "dataset.channels", "1 or 3"),
        (cfg.dataset.image_size >= 8, "dataset.image_size", "at least 8"),
        (0 < cfg.dataset.test_fraction < 1, "dataset.test_fraction", "between 0 and 1"),
        (cfg.model.latent_dim >= 1, "model.latent_dim", "at least 1"),
        (cfg.evaluation.kid_subsets >= 1, "evaluation.kid_subsets", "at least 1"),
        (cfg.evaluation.kid_subset_size >= 2, "evaluation.kid_subset_size", "at least 2"),
        (cfg.evaluation.memorisation_samples >= 1, "evaluation.memorisation_samples", ">= 1"),
        (cfg.evaluation.classifier.epochs >= 1, "evaluation.classifier.epochs", "at least 1"),
        (cfg.registry.max_images >= 1, "registry.max_images", "at least 1"),
        (cfg.generate.num_images >= 1, "generate.num_images", "at least 1"),
        (cfg.generate.seed >= 0, "generate.seed", "0 or more"),
        (
            cfg.generate.format in ("grid", "folder", "npz"),
            "generate.format",
            "grid, folder or npz",
        ),
    ]
    for ok, key, expected in checks:
        if not ok:
            raise PipelineError(
                f"invalid configuration value for '{key}': {OmegaConf.select(cfg, key)!r}",
                f"use a value that is {expected}",
            )


def repo_root(start: Path | None = None) -> Path:
    """The project root that runs are recorded under.

    DVC runs queued experiments in copies under ``<repo>/.dvc/tmp/exps/``; anything written
    there is thrown away, so such a copy resolves to the repository that holds it.
    """
    path = (start or Path.cwd()).resolve()
    parts = path.parts
    for i in range(len(parts) - 3):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    for candidate in (path, *path.parents):
        if (candidate / "dvc.yaml").exists() or (candidate / ".git").exists():
            return candidate
    return path


def tracking_uri(cfg: DictConfig) -> str:
    """Config value, then $MLFLOW_TRACKING_URI, then an absolute SQLite file at the repo root."""
    if cfg.tracking.uri:
        return str(cfg.tracking.uri)
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{repo_root() / 'mlflow.db'}"
