"""How every stage is started: by Hydra (composing conf/) or by DVC (reading params.yaml).

    python -m pipeline.stages.train model=mlp training.epochs=2   # Hydra: conf/ + overrides
    python -m pipeline.stages.train -m model=mlp,dcgan            # Hydra multirun sweep
    python -m pipeline.stages.train --params params.yaml          # DVC: the composed file

Either way the sections the stage reads are validated against pipeline.config before any file
is touched, and a PipelineError becomes one readable message and exit status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from pipeline.config import Section, validate
from pipeline.errors import PipelineError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
StageFn = Callable[[DictConfig], Any]


def run_guarded(stage: StageFn, cfg: DictConfig, sections: Mapping[str, Section]) -> Any:
    try:
        return stage(validate(cfg, sections))
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_status)


def _per_job_outputs(cfg: DictConfig) -> DictConfig:
    """In a Hydra multirun, each job writes its models/metrics/plots into its own job folder
    (the MLflow run is the record); the shared data and checkpoint cache stay where they are."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        job_dir = Path(hydra_cfg.runtime.output_dir)
        for key in ("models", "metrics", "plots"):
            cfg.paths[key] = str(job_dir / key)
    return cfg


def entrypoint(stage: StageFn, sections: Mapping[str, Section]) -> Callable[[], Any]:
    """``main()`` for a stage that reads ``sections`` of the config (besides seed and paths)."""

    @hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
    def hydra_main(cfg: DictConfig) -> Any:
        return run_guarded(stage, _per_job_outputs(cfg), sections)

    def main() -> Any:
        args = sys.argv[1:]
        if args[:1] == ["--params"]:
            if len(args) != 2:
                sys.exit(f"usage: python -m {stage.__module__} --params params.yaml")
            params = Path(args[1])
            if not params.is_file():
                print(f"error: {params} not found\n  fix: run from the repo root", file=sys.stderr)
                sys.exit(2)
            loaded = OmegaConf.load(params)
            if not isinstance(loaded, DictConfig):
                print(f"error: {params} is not a mapping of config sections", file=sys.stderr)
                sys.exit(2)
            return run_guarded(stage, loaded, sections)
        check_overrides(args)
        return hydra_main()

    return main


def check_overrides(args: list[str]) -> None:
    """Compose conf/ with the command line's overrides as Hydra would, and turn what Hydra
    refuses (an unknown option, group or key, a malformed override) into the error and fix
    lines and exit status 2 of every other input error, rather than Hydra's text and status 1.
    Hydra's own flags (``--cfg``, ``--help``, ...) are left to Hydra; in a multirun (``-m``),
    sweep overrides (``model=mlp,dcgan``) are each checked value by value."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    multirun = any(a in ("-m", "--multirun") for a in args)
    if any(a.startswith("-") and a not in ("-m", "--multirun") for a in args):
        return
    overrides = [a for a in args if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as e:
        _refuse(f"cannot read the command line's overrides: {e}")
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    trials = [fixed]
    if multirun:
        for o in parsed:
            if o.is_discrete_sweep():
                trials += [
                    [*fixed, f"{o.get_key_element()}={v}"] for v in o.sweep_string_iterator()
                ]
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            for trial in trials:
                compose("config", overrides=trial)
    except (HydraException, OmegaConfBaseException) as e:
        _refuse(" ".join(str(e).split()))


def _refuse(problem: str) -> NoReturn:
    fix = (
        "check the spelling: a group's options are the YAML files in conf/<group>/, and "
        "`--cfg job` after the stage's name prints every key with its value"
    )
    print(f"error: {problem}\n  fix: {fix}", file=sys.stderr)
    sys.exit(2)
