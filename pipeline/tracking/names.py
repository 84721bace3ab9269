"""What a run is called: the model preset (and the architecture it builds, when the names
differ), the dataset, and the overrides that set it apart."""

from __future__ import annotations

import os
from collections.abc import Sequence

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from pipeline.config import CONF_DIR, flatten

# Overrides that say where a run goes, not what it is: left out of run names.
NOT_IN_NAMES = ("paths.", "tracking.", "hydra.", "hparams_search")


def run_name(cfg: DictConfig, overrides: Sequence[str] | None = None, most: int = 6) -> str:
    """What a run is, in a line: model preset, dataset, and the overrides that set it apart,
    e.g. ``compact_dcgan fashion_mnist experiment=smoke training.generator_lr=1e-4``.

    ``overrides``: the command line's (Hydra), or None to list the values that differ from
    conf/'s defaults (a run from params.yaml, as DVC starts it); at most ``most`` of them."""
    model = _model_shown(cfg.model) if "model" in cfg else None
    dataset = cfg.dataset.name if "dataset" in cfg else None
    if overrides is None:
        default = _default_config()
        flat, base = flatten(cfg), flatten(default)
        skip = ("model.",) if model and model != _model_shown(default.model) else ()
        overrides = [f"{k}={v}" for k, v in flat.items()
                     if base.get(k) != v and not k.startswith(skip)]  # fmt: skip
    shown = [o for o in overrides if not o.lstrip("+~").startswith(NOT_IN_NAMES)]
    if len(shown) > most:
        shown = [*shown[:most], f"(+{len(shown) - most} more)"]
    experiment = os.environ.get("DVC_EXP_NAME")
    parts = [model, dataset, *shown, f"[dvc exp {experiment}]" if experiment else None]
    return " ".join(p for p in parts if p)[:250]


def _model_shown(model: DictConfig) -> str:
    """The model preset, and the architecture it builds when the names differ:
    ``compact_dcgan (strided_dcgan)``."""
    preset, name = _preset("model", model), str(model.get("name", ""))
    return preset if not name or name == preset else f"{preset} ({name})"


def _preset(group: str, section: DictConfig) -> str:
    """The conf/<group>/ option that a composed section came from (the Hydra choice, or the
    YAML file it equals), else its ``name``."""
    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get(group)
        if choice:
            return str(choice)
    wanted = OmegaConf.to_container(section, resolve=True)
    for option in sorted((CONF_DIR / group).glob("*.yaml")):
        if OmegaConf.to_container(OmegaConf.load(option)) == wanted:
            return option.stem
    return str(section.get("name", group))


def _default_config() -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return compose("config")
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config")
