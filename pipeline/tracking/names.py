"""What a run is called: the architecture, the dataset, and the overrides that set it apart."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import cast

from omegaconf import DictConfig, OmegaConf

from pipeline.config import CONF_DIR, flatten

# Overrides that say where a run goes, not what it is: left out of run names.
NOT_IN_NAMES = ("paths.", "tracking.", "hydra.", "hparams_search")
# What the name shows first (the architecture, the dataset): not repeated among the overrides.
ALREADY_SHOWN = ("model.name=", "dataset.name=", "dataset=")


def short(override: str) -> str:
    """An override as a run's name shows it: a folder by its name, not the machine's path."""
    key, _, value = override.partition("=")
    if key.lstrip("+~") == "dataset.raw_dir" and value:
        return f"{key}=.../{os.path.basename(value.rstrip('/'))}"
    return override


def run_name(cfg: DictConfig, overrides: Sequence[str] | None = None, most: int = 6) -> str:
    """What a run is, in a line: the architecture (model presets are named after it), the
    dataset, and the overrides that set it apart, e.g. ``strided_dcgan fashion_mnist
    experiment=smoke training.generator_lr=1e-4``. ``cfg``: the composed config, before
    validation (the CLI names a run first).

    ``overrides``: the command line's (Hydra), or None to list the values that differ from
    conf/'s defaults (a run from params.yaml, as DVC starts it); at most ``most`` of them."""
    model = OmegaConf.select(cfg, "model.name")
    dataset = OmegaConf.select(cfg, "dataset.name")
    if overrides is None:
        flat, base = flatten(cfg), flatten(_default_config())
        overrides = [f"{k}={v}" for k, v in flat.items() if base.get(k) != v]
    shown = [short(o) for o in overrides
             if not o.lstrip("+~").startswith((*NOT_IN_NAMES, *ALREADY_SHOWN))]  # fmt: skip
    if len(shown) > most:
        shown = [*shown[:most], f"(+{len(shown) - most} more)"]
    experiment = os.environ.get("DVC_EXP_NAME")
    parts = [model, dataset, *shown, f"[dvc exp {experiment}]" if experiment else None]
    return " ".join(str(p) for p in parts if p)[:250]


def _default_config() -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return cast(DictConfig, compose("config"))
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return cast(DictConfig, compose("config"))
