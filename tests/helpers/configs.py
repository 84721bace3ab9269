"""The real conf/, composed by Hydra as a stage would see it, and its option lists."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from pipeline.config import Section, validate

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


def stage_sections(stage: str) -> dict[str, Section]:
    return dict(importlib.import_module(f"pipeline.stages.{stage}").SECTIONS)


def all_sections() -> dict[str, Section]:
    """The union of every stage's sections; prepare's dataset check (the registry) wins."""
    merged: dict[str, Section] = {}
    for stage in (*STAGES[1:], STAGES[0]):
        merged.update(stage_sections(stage))
    return merged


def validate_all(cfg: Any) -> DictConfig:
    return validate(cfg, all_sections())


def output_overrides(tmp_path: Path) -> list[str]:
    """Every output folder and the MLflow store under tmp_path."""
    keys = ("raw", "prepared", "models", "metrics", "plots", "checkpoints", "classifier", "cache")
    return [f"paths.{key}={tmp_path / key}" for key in keys] + [
        f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"
    ]


def image_shape(cfg: Any) -> tuple[int, int, int]:
    """The image shape a config's dataset prepares (its image_size and channels)."""
    return (int(cfg.dataset.image_size), int(cfg.dataset.image_size), int(cfg.dataset.channels))
