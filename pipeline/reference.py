"""docs/reference.md, generated from the schemas and conf/: every key of every section with its
type, default, allowed values and meaning, and every preset with what it sets.

    python -m pipeline.reference docs/reference.md           # write the page
    python -m pipeline.reference --check docs/reference.md   # exit 1 when it is stale

The meaning of a key is the comment beside (or just above) its field in the schema, else the
comment beside it in conf/: one source for each, so the page cannot drift from the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import json
import sys
import tokenize
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipeline.config.schema import CONF_DIR, RULES, flatten
from pipeline.io import write_or_check

HEADER = """# Configuration reference

Generated from the schemas (`pipeline/config/`, and each plug-in's own) and the defaults in
`conf/` by `python -m pipeline.reference docs/reference.md`; a test fails when this page
is stale. How the groups compose and how to override them: [Configuration](configuration.md).
"""


def field_comments(schema: type) -> dict[str, str]:
    """The comment beside each field of ``schema``'s source, or the comment lines above it."""
    comments: dict[str, str] = {}
    for cls in reversed(schema.__mro__):
        if not dataclasses.is_dataclass(cls):
            continue
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        above: list[str] = []
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                above.append(stripped.lstrip("# "))
                continue
            name = stripped.split(":", 1)[0]
            if ":" in stripped and name.isidentifier() and "setting(" in stripped + "section(":
                beside = _trailing_comment(line)
                text = beside or " ".join(above)
                if text:
                    comments[name] = text
            above = []
    return comments


def _trailing_comment(line: str) -> str:
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            if token.type == tokenize.COMMENT:
                return token.string.lstrip("# ")
    except (tokenize.TokenError, IndentationError):
        pass
    return ""


def conf_comments(path: Path) -> dict[str, str]:
    """``key: value  # comment`` lines of a conf/ file (top-level keys)."""
    found = {}
    for line in path.read_text().splitlines():
        if line[:1].isalpha() and "#" in line and ":" in line:
            found[line.split(":", 1)[0]] = line.split("#", 1)[1].strip()
    return found


def rules_of(f: dataclasses.Field[Any]) -> str:
    shown = []
    for rule in RULES:
        if rule in f.metadata:
            value = f.metadata[rule]
            if rule == "choices":
                shown.append("one of " + ", ".join(f"`{c}`" for c in value))
            else:
                symbol = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}[rule]
                shown.append(f"{symbol} {value}")
    return "; ".join(shown)


def type_name(hint: Any, f: dataclasses.Field[Any]) -> str:
    if hint is Any and "choices" in f.metadata:  # e.g. training.conditional: true/false/auto
        return " or ".join(sorted({type(c).__name__ for c in f.metadata["choices"]}))
    text = str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")
    return text.replace(" | None", ", or null")


def shown(value: Any) -> str:
    if isinstance(value, DictConfig) or value is None or isinstance(value, list | bool):
        value = OmegaConf.to_container(value) if isinstance(value, DictConfig) else value
        return f"`{OmegaConf.to_yaml({'v': value}).split(':', 1)[1].strip()}`"
    return f"`{value}`"


def section_table(schema: type, values: Any, conf_file: Path | None = None) -> list[str]:
    """A table of ``schema``'s keys: type, default (from ``values``), rules, meaning."""
    hints = typing.get_type_hints(schema)
    comments = field_comments(schema)
    from_conf = conf_comments(conf_file) if conf_file and conf_file.is_file() else {}
    rows = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(schema):
        if f.metadata.get("resolved"):
            continue
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            continue  # a nested section: a table of its own
        value = values.get(f.name) if isinstance(values, DictConfig) else None
        meaning = comments.get(f.name) or from_conf.get(f.name, "")
        rows.append(
            f"| `{f.name}` | {type_name(hint, f)} | {shown(value)} | {rules_of(f)} | "
            f"{meaning.replace('|', '/')} |"
        )
    return rows


def sections() -> Iterator[tuple[str, type, str]]:
    """(dotted key, schema, conf group) of every fixed section a stage reads."""
    from pipeline.config import sections as s
    from pipeline.config import training as t

    yield "training", t.TrainingConfig, "training"
    yield "augment", t.AugmentConfig, "augment"
    yield "compute", t.ComputeConfig, "compute"
    yield "checkpoint", t.CheckpointConfig, "checkpoint"
    yield "monitor", t.MonitorConfig, "monitor"
    yield "evaluation", s.EvaluationConfig, "evaluation"
    yield "evaluation.classifier", s.ClassifierConfig, "evaluation"
    yield "evaluation.utility", s.UtilityConfig, "evaluation"
    yield "registry", s.RegistryConfig, "registry"
    yield "generate", s.GenerateConfig, "generate"
    yield "tracking", s.TrackingConfig, "tracking"
    yield "paths", s.PathsConfig, "paths"
    yield "tune", s.TuneConfig, ""
    yield "hparams_search", s.SearchConfig, ""


def summary(schema: type) -> str:
    """The first paragraph of a schema's own docstring (not dataclass's generated one)."""
    doc = schema.__dict__.get("__doc__") or ""
    return "" if doc.startswith(f"{schema.__name__}(") else doc.split("\n\n")[0].strip()


def compose(overrides: list[str], config_name: str = "config") -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        composed: DictConfig = hydra_compose(config_name, overrides=overrides)
    return composed


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def plug_in_tables(group: str, catalog: Any) -> list[str]:
    """One table per option of a plug-in group (dataset, model, loss): its entry's schema."""
    lines = []
    for option in options(group):
        cfg = compose([f"{group}={option}"])
        section = cfg[group]
        schema = catalog.entry(str(section.name)).schema
        first = (CONF_DIR / group / f"{option}.yaml").read_text().splitlines()[0].lstrip("# ")
        lines += [f"### `{group}={option}` ({schema.__name__})", "", first, ""]
        lines += [*section_table(schema, section, CONF_DIR / group / f"{option}.yaml"), ""]
    return lines


# Each preset's training time: measured on a CPU, estimated for a GPU (benchmarks/preset_times.py).
PRESET_TIMES = CONF_DIR.parent / "benchmarks" / "results" / "preset-times.json"


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} days"


def preset_rows() -> list[str]:
    """What each preset sets, against the default composition, and how long it trains."""
    times = json.loads(PRESET_TIMES.read_text())
    base = flatten(compose([]))
    rows = [
        f"Training time: {times['presets']['default']['steps']:,} steps of the default take "
        f"{duration(times['presets']['default']['cpu_s'])} on {times['machine']} "
        f"({times['date']}; `benchmarks/preset_times.py`: {times['measured']}, times the "
        "preset's steps). The GPU column is an **estimate**, "
        f"{times['gpu_estimate']}. Evaluation, and the classifier stage, come on top.",
        "",
        "| preset | what it is | training steps | 2-core CPU (measured) | GPU (estimate) "
        "| what it sets (differences from the default) |",
        "|---|---|---|---|---|---|",
    ]
    for group in ("experiment", "hardware"):
        for option in options(group):
            text = (CONF_DIR / group / f"{option}.yaml").read_text().splitlines()
            about = " ".join(line.lstrip("# ") for line in text[1:3] if line.startswith("#"))
            changed = {k: v for k, v in flatten(compose([f"{group}={option}"])).items()
                       if base.get(k) != v and not k.startswith("regularizers.")}  # fmt: skip
            sets = ", ".join(f"`{k}={v}`" for k, v in changed.items())
            timed = times["presets"].get(option) if group == "experiment" else None
            cost = (
                f"{timed['steps']:,} | {duration(timed['cpu_s'])} | "
                f"{duration(timed['gpu_estimate_s'])}"
                if timed
                else "any preset's | - | -"
            )
            rows.append(f"| `{group}={option}` | {about} | {cost} | {sets} |")
    return rows


def page() -> str:
    from pipeline.data.specs import DATASETS
    from pipeline.gan.losses import LOSSES
    from pipeline.gan.regularizers import REGULARIZERS
    from pipeline.models import MODELS

    default = compose([])
    tune = compose([], "tune")
    out = [HEADER, "## Sections", ""]
    out += ["Every stage also reads `seed` (int, >= 0, default `42`): the run's seed.", ""]
    for key, schema, group in sections():
        values = OmegaConf.select(tune if key in ("tune", "hparams_search") else default, key)
        conf_file = CONF_DIR / group / "default.yaml" if group else None
        out += [f"### `{key}`", "", summary(schema), ""]
        if key == "hparams_search":
            out += ["Set by a preset of `conf/hparams_search/` (`python -m pipeline.tune "
                    "hparams_search=<preset>`).", ""]  # fmt: skip
        out += [*section_table(schema, values, conf_file), ""]
    out += ["## Dataset sources", "", "Each source has its own keys; a key of another source is "
            "refused.", "", *plug_in_tables("dataset", DATASETS)]  # fmt: skip
    out += ["## Models", "", *plug_in_tables("model", MODELS)]
    out += ["## Losses", "", *plug_in_tables("loss", LOSSES)]
    out += ["## Regularizers", "", "Any number: `regularizers=[r1,lecam]`; `[]`: none.", ""]
    for option in options("regularizers"):
        term_schema = REGULARIZERS.entry(option).schema
        values = compose([f"regularizers=[{option}]"]).regularizers[option]
        out += [f"### `regularizers=[{option}]`", ""]
        out += [*section_table(term_schema, values), ""] if term_schema else []
    out += ["## Presets", "", *preset_rows(), ""]
    return "\n".join(line.rstrip() for line in out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="?", default="docs/reference.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is stale")
    args = parser.parse_args(argv)
    target = Path(args.page)
    return write_or_check(target, page(), args.check, f"python -m pipeline.reference {target}")


if __name__ == "__main__":
    sys.exit(main())
