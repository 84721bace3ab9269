"""The real conf/, composed by Hydra as a stage would see it, and its option lists."""

from __future__ import annotations

import dataclasses
import functools
import importlib
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from pipeline.config import validate
from pipeline.config.schema import section_keys

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
STAGES = ("prepare", "train", "classifier", "evaluate", "register", "generate")


def compose_config(
    overrides: list[str] | None = None, conf_dir: Path = CONF, config_name: str = "config"
) -> DictConfig:
    """conf/ composed with overrides, as `python -m pipeline.stages.<stage>` would see it
    (``config_name="tune"``: as `python -m pipeline.tune` would)."""
    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        return compose(config_name, overrides=overrides or [])


def options(group: str) -> list[str]:
    """Every option of a config group, from its folder: a new YAML file is tested with no edit."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def stage_schema(stage: str) -> type:
    """The typed config a stage validates (its module's SCHEMA)."""
    return importlib.import_module(f"pipeline.stages.{stage}").SCHEMA


def stage_sections(stage: str) -> list[str]:
    """The dotted keys of the config sections a stage reads (``evaluation.classifier``)."""
    return section_keys(stage_schema(stage))


@functools.cache
def all_stages_schema() -> type:
    """One schema with the sections of every stage (the dataclasses combined)."""
    bases = tuple(stage_schema(stage) for stage in STAGES)
    return dataclasses.make_dataclass("AllStagesConfig", [], bases=bases)


def validate_all(cfg: Any) -> Any:
    """``cfg`` validated with the sections of every stage, typed."""
    return validate(cfg, all_stages_schema())


def output_overrides(tmp_path: Path) -> list[str]:
    """Every output folder and the MLflow store under tmp_path."""
    keys = ("raw", "prepared", "models", "metrics", "plots", "checkpoints", "classifier", "cache")
    return [f"paths.{key}={tmp_path / key}" for key in keys] + [
        f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"
    ]


def image_shape(cfg: Any) -> tuple[int, int, int]:
    """The image shape a validated config's dataset prepares."""
    from pipeline.data.specs import image_shape as shape_of

    return shape_of(cfg.dataset)


def tiny_mlp(latent_dim: int = 8) -> Any:
    """A small dense model's settings, typed as the model catalog's schema gives them."""
    from pipeline.models.mlp import MlpConfig

    return MlpConfig(name="mlp", latent_dim=latent_dim, generator_units=[16],
                     discriminator_units=[8], batch_norm_momentum=0.8, leaky_relu_slope=0.2)  # fmt: skip
