"""How every stage is started: by Hydra (composing conf/) or by DVC (reading params.yaml).

    python -m pipeline.stages.train model=mlp training.epochs=2   # Hydra: conf/ + overrides
    python -m pipeline.stages.train -m model=mlp,dcgan            # Hydra multirun sweep
    python -m pipeline.stages.train --params params.yaml          # DVC: the composed file

Either way the sections the stage reads are validated against its schema (pipeline.config)
before any file is touched, and the stage gets them typed; a PipelineError becomes one readable
message and exit status 2.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from pipeline.artifacts import per_job_outputs
from pipeline.config import CONF_DIR, validate
from pipeline.config.renamed import OPTIONS, renamed_key, renamed_message
from pipeline.errors import PipelineError
from pipeline.logs import VERBOSE_FLAG
from pipeline.tracking.names import run_name

StageFn = Callable[[Any], Any]  # (its schema's typed settings) -> its result


def run_guarded(stage: StageFn, cfg: DictConfig, schema: type) -> Any:
    try:
        return stage(validate(cfg, schema))
    except OSError as e:
        if not disk_full(e):
            raise
        error: PipelineError = PipelineError(
            f"no space left on the disk{f' writing {e.filename}' if e.filename else ''}: "
            f"{' '.join(str(e).split())[:200]}; files already in place are unchanged",
            "free space on that disk (df -h), or point paths.* at another, and run again",
        )
    except PipelineError as e:
        error = e
    except KeyboardInterrupt:  # a second Ctrl-C during training, or one outside it
        error = PipelineError(
            "stopped at once by Ctrl-C; nothing after the last checkpoint was saved",
            "run the same command again: training resumes from the last checkpoint",
        )
        error.exit_status = 130
    print(f"error: {error}", file=sys.stderr)
    sys.exit(error.exit_status)


def disk_full(e: OSError) -> bool:
    """A full disk, a quota or a file-size limit; h5py says so only in its message."""
    return e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "No space left" in str(e)


def _named(cfg: DictConfig, overrides: Sequence[str] | None) -> DictConfig:
    """Fill ``tracking.run_name`` when the config leaves it null."""
    if "tracking" in cfg and not cfg.tracking.get("run_name"):
        cfg.tracking.run_name = run_name(cfg, overrides)
    return cfg


def _per_job_outputs(cfg: DictConfig) -> DictConfig:
    """In a Hydra multirun, each job writes its outputs into its own job folder."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        per_job_outputs(cfg, Path(hydra_cfg.runtime.output_dir))
    return cfg


def entrypoint(stage: StageFn, schema: type, config_name: str = "config") -> Callable[[], Any]:
    """``main()`` for a stage that reads the sections of ``schema`` (a dataclass)."""

    @hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=config_name)
    def hydra_main(cfg: DictConfig) -> Any:
        cfg = _named(cfg, list(HydraConfig.get().overrides.task))
        return run_guarded(stage, _per_job_outputs(cfg), schema)

    def main() -> Any:
        if VERBOSE_FLAG in sys.argv:  # read by pipeline/__init__.py; not a Hydra override
            sys.argv.remove(VERBOSE_FLAG)
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
            return run_guarded(stage, _named(loaded, None), schema)
        check_overrides(args, config_name)
        return hydra_main()

    return main


def check_overrides(args: list[str], config_name: str = "config") -> None:
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
    for o in parsed:
        _check_renamed(o)
        _check_option(o)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    trials = [fixed]
    if multirun:
        for o in parsed:
            if o.is_discrete_sweep():
                trials += [
                    [*fixed, f"{o.get_key_element()}={v}"] for v in o.sweep_string_iterator()
                ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        for trial in trials:
            try:
                compose(config_name, overrides=trial)
            except (HydraException, OmegaConfBaseException) as e:
                _refuse(" ".join(str(e).split()), _closest_key(trial, compose, config_name))


def _closest_key(trial: list[str], compose: Any, config_name: str) -> str | None:
    """For an override of a key the config lacks (a misspelling, or a key of another dataset
    source or model), the fix: the closest key of that section, and every key it has."""
    import difflib

    # the groups chosen (dataset=..., model=...) without the plain keys: the sections they make
    chosen = [o for o in trial if "=" in o and "." not in o.split("=", 1)[0]]
    try:
        base = compose(config_name, overrides=chosen)
    except Exception:  # the groups themselves are at fault: Hydra's message says which
        return None
    for override in trial:
        key = override.split("=", 1)[0].lstrip("+~")
        section, _, name = key.rpartition(".")
        node = OmegaConf.select(base, section) if section else base
        if not isinstance(node, DictConfig) or name in node:
            continue
        close = difflib.get_close_matches(name, [str(k) for k in node], n=1, cutoff=0.6)
        hint = f"did you mean {section}.{close[0]}? " if close else ""
        return f"{hint}the keys of {section or 'the config'}: {', '.join(map(str, node))}"
    return None


def _check_renamed(override: Any) -> None:
    """A key or preset renamed since: refused with its new name (Hydra would only say it is
    not in the config)."""
    key = override.key_or_group
    new = renamed_key(key)
    if new:
        problem, fix = renamed_message(key, new)
        _refuse(problem, fix)
    if override.is_sweep_override() or override.is_delete():
        return
    value = override.value()
    for old in value if isinstance(value, list) else [value]:
        if (key, str(old)) in OPTIONS:
            _refuse(*renamed_message(f"{key}={old}", f"{key}={OPTIONS[key, str(old)]}"))


def _check_option(override: Any) -> None:
    """An option of a group that is optional in the defaults list (``experiment``,
    ``hparams_search``) must exist: Hydra silently composes without a misspelt one."""
    group = override.key_or_group
    folder = CONF_DIR / group
    if group.startswith("hydra") or not folder.is_dir() or override.is_delete():
        return
    if override.is_sweep_override():
        if not override.is_discrete_sweep():
            return
        values: list[Any] = list(override.sweep_string_iterator())
    else:
        value = override.value()
        values = list(value) if isinstance(value, list) else [value]
    known = sorted(p.stem for p in folder.glob("*.yaml"))
    for value in values:
        if value is not None and str(value) not in known:
            _refuse(
                f"conf/{group}/ has no option '{value}' ({group}={value}); its options: "
                + ", ".join(known)
            )


def _refuse(problem: str, fix: str | None = None) -> NoReturn:
    fix = fix or (
        "check the spelling: a group's options are the YAML files in conf/<group>/, and "
        "`--cfg job` after the stage's name prints every key with its value"
    )
    print(f"error: {problem}\n  fix: {fix}", file=sys.stderr)
    sys.exit(2)
