"""The machinery of typed configuration: schema fields, and ``validate``, which checks what
Hydra (or DVC's params.yaml) composed against a stage's schema and returns it typed.

A stage's schema is a dataclass whose fields are the sections it reads (they mirror its
``params:`` in dvc.yaml), so that, say, ``prepare`` neither imports nor depends on the model
code. Every field of a section is ``setting()``, which has no default: conf/ holds the default,
and a value missing there is an error naming the key rather than a second, silently different
default. Sections chosen by name from a catalog (model, loss, dataset: ``choice()``; the
regularizers: ``choice_map()``) are checked against the chosen entry's schema, and come back as
an instance of it.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, TypeVar, cast

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pipeline.config.renamed import renamed_key, renamed_message
from pipeline.errors import PipelineError
from pipeline.plugins import Catalog

# The config groups (Hydra composes them; defaults live there only).
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

C = TypeVar("C")
RULES = ("ge", "gt", "le", "lt", "choices")


def setting(**rules: Any) -> Any:
    """A schema field with no default (conf/ holds the default) and optional rules:
    ge, gt, le, lt (numbers; applied to each item of a list) and choices; ``weights`` (the
    sections of a training run) says whether the field changes the weights a run produces."""
    return field(default=MISSING, metadata=rules)


def section(schema: type, key: str | None = None) -> Any:
    """A nested section: its own schema, its values from conf/; ``key``: where it sits in the
    composed config when not under the field's name (``evaluation.classifier``)."""
    return field(default_factory=schema, metadata={"key": key} if key else {})


def choice(catalog: Catalog[Any]) -> Any:
    """A section whose ``name`` picks an entry of ``catalog``; the entry's schema checks the
    rest (the field's type, a base of every entry's schema, when the entry has none)."""
    return field(default=MISSING, metadata={"choice": catalog})


def choice_map(catalog: Catalog[Any]) -> Any:
    """A section mapping entry names of ``catalog`` to their settings (several regularizers
    at once); each entry's settings come back as an instance of its schema."""
    return field(default_factory=dict, metadata={"choice_map": catalog})


def resolved() -> Any:
    """The whole composed config, resolved, as plain containers: what a run records (its
    params and config.yaml), not something to read settings from."""
    return field(default_factory=dict, metadata={"resolved": True})


def validate(cfg: DictConfig | Mapping[str, Any], schema: type[C]) -> C:
    """Check the sections of ``schema`` in ``cfg`` and return them typed (an instance of
    ``schema``); raise PipelineError naming the bad key, its value and a fix."""
    node = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))
    try:  # interpolations such as ${dataset.name} resolve against the whole config, first
        container = OmegaConf.to_container(node, resolve=True)
    except OmegaConfBaseException as e:
        raise PipelineError(
            f"cannot resolve the configuration: {str(e).splitlines()[0]}",
            "fix the ${...} interpolation it names (DVC composes without Hydra's ${hydra:...})",
        ) from None
    raw = cast(DictConfig, OmegaConf.create(container))
    hints = typing.get_type_hints(schema)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cast(Any, schema)):
        if f.metadata.get("resolved"):
            values[f.name] = container
            continue
        key = f.metadata.get("key") or f.name
        value = OmegaConf.select(raw, key, default=MISSING)
        if value is MISSING:
            raise PipelineError(
                f"the configuration has no '{key}'",
                f"add '{key}' to conf/ (defaults live there) or pass +{key}=<value>",
            )
        values[f.name] = _check(key, value, f, hints[f.name])
    return schema(**values)


def section_keys(schema: type) -> list[str]:
    """Where the sections of ``schema`` sit in the composed config (``evaluation.classifier``)."""
    fields = dataclasses.fields(cast(Any, schema))
    return [f.metadata.get("key") or f.name for f in fields if not f.metadata.get("resolved")]


def _check(key: str, value: Any, f: dataclasses.Field[Any], hint: Any) -> Any:
    if "choice_map" in f.metadata:
        catalog: Catalog[Any] = f.metadata["choice_map"]
        if value is None:
            return {}
        if not isinstance(value, DictConfig):
            raise _invalid(key, value, "a mapping of names to settings, e.g. {r1: {weight: 10}}")
        return {
            str(name): _typed(f"{key}.{name!s}", settings or {}, catalog.entry(str(name)).schema)
            for name, settings in value.items()
        }
    if "choice" in f.metadata:
        catalog = f.metadata["choice"]
        if not isinstance(value, DictConfig) or "name" not in value:
            raise _invalid(key, value, f"a {catalog.kind} config with a 'name'")
        entry = catalog.entry(str(value.name))  # the name must exist
        return _typed(key, value, entry.schema or hint)
    if dataclasses.is_dataclass(hint):
        return _typed(key, value, cast(type, hint))
    if hint is int:  # a scalar section such as seed
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _invalid(key, value, "a non-negative int")
        return value
    raise TypeError(f"no rule to check a section of type {hint!r} ({key})")


def _typed(key: str, value: Any, schema: type | None) -> Any:
    """``value`` checked against ``schema``: an instance of it (None: the plain settings)."""
    if schema is None:  # an entry without settings of its own
        return OmegaConf.to_container(value) if isinstance(value, DictConfig) else dict(value)
    if isinstance(value, DictConfig):
        _refuse_unknown(key, value, schema)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), value)
    except OmegaConfBaseException as e:
        inner = getattr(e, "full_key", None)
        where = f"{key}.{inner}" if inner else key
        message = getattr(e, "msg", None) or str(e)
        raise PipelineError(
            f"invalid configuration value for '{where}': {message.splitlines()[0]}",
            f"check the key's type against conf/ (e.g. {key}.<key>=<value>)",
        ) from None
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        keys = ", ".join(f"{key}.{k}" for k in missing)
        raise PipelineError(
            f"no value for {keys}",
            "defaults live in conf/: add the key to the YAML file of that group",
        )
    _check_rules(key, cast(DictConfig, merged), schema)
    return OmegaConf.to_object(merged)


def _refuse_unknown(key: str, value: DictConfig, schema: type) -> None:
    """A key the schema does not have: renamed (the new name), or misspelt (the closest)."""
    known = [f.name for f in dataclasses.fields(cast(Any, schema))]
    for name in map(str, value):
        if name in known:
            continue
        dotted = f"{key}.{name}"
        new = renamed_key(dotted)
        if new:
            raise PipelineError(*renamed_message(dotted, new))
        raise PipelineError(*unknown_key_message(dotted, known, schema))


def unknown_key_message(dotted: str, known: list[str], schema: type) -> tuple[str, str]:
    """(problem, fix) for a key that ``schema`` (a section's) does not have."""
    section, name = dotted.rsplit(".", 1)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {section}.{close[0]}? " if close else ""
    return (
        f"'{dotted}' is not a setting of {section} ({schema.__name__})",
        f"{hint}its settings: {', '.join(known)}",
    )


def _check_rules(prefix: str, node: DictConfig, schema: type) -> None:
    for f in dataclasses.fields(cast(Any, schema)):
        value = node[f.name]
        if isinstance(value, DictConfig) and dataclasses.is_dataclass(f.default_factory):
            _check_rules(f"{prefix}.{f.name}", value, cast(type, f.default_factory))
            continue
        rules = {k: v for k, v in f.metadata.items() if k in RULES}
        if not rules or value is None:
            continue
        items = list(value) if isinstance(value, ListConfig) else [value]
        for item in items:
            problem = _broken_rule(item, rules)
            if problem:
                raise _invalid(f"{prefix}.{f.name}", value, problem)


def _broken_rule(value: Any, rules: Mapping[str, Any]) -> str | None:
    if "choices" in rules and value not in rules["choices"]:
        return "one of " + ", ".join(str(c) for c in rules["choices"])
    bounds = {"ge": (">=", float.__ge__), "gt": (">", float.__gt__),
              "le": ("<=", float.__le__), "lt": ("<", float.__lt__)}  # fmt: skip
    for rule, (symbol, holds) in bounds.items():
        if rule in rules and not holds(float(value), float(rules[rule])):
            return f"{symbol} {rules[rule]}"
    return None


def _invalid(key: str, value: Any, expected: str) -> PipelineError:
    shown = OmegaConf.to_container(value) if isinstance(value, DictConfig | ListConfig) else value
    return PipelineError(
        f"invalid configuration value for '{key}': {shown!r}", f"use a value that is {expected}"
    )


def settings_of(section: Any) -> dict[str, Any]:
    """A section's settings as a plain mapping (a plug-in's keyword arguments; a record)."""
    if dataclasses.is_dataclass(section) and not isinstance(section, type):
        return dataclasses.asdict(section)
    return dict(section)


def flatten(cfg: Any) -> dict[str, str]:
    """A config as dotted names ("training.epochs" -> "5"): MLflow's params. ``cfg``: a
    DictConfig, a mapping, or a typed stage config (its ``resolved`` whole, when it has one)."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    elif dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        cfg = getattr(cfg, "resolved", None) or dataclasses.asdict(cfg)
    flat: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            flat[prefix[:-1]] = str(node)

    walk(cfg, "")
    return flat
