"""Every pipeline command shown in README.md and docs/ composes and validates as written: its
overrides name keys and options that exist, with values of the right type, so a renamed key
breaks this test, not a reader. (Composing is cheap; the commands themselves run in the slow
tier's end-to-end tests, with smoke settings.)"""

from __future__ import annotations

import re
import shlex

import pytest

from pipeline.config import validate
from tests.helpers.configs import ROOT, all_stages_schema, compose_config, stage_schema

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_commands() -> list[tuple[str, list[str]]]:
    """(page, argv) of each `python -m pipeline...` and `dvc exp run` line of a shell block."""
    found = []
    for page in PAGES:
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", page.read_text(), flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                for command in line.split(" #")[0].split("&&"):
                    words = shlex.split(command.strip())
                    if (
                        words[:2] == ["python", "-m"] and words[2].startswith("pipeline.")
                    ) or words[:3] == ["dvc", "exp", "run"]:
                        found.append((page.name, words))
    return found


def overrides_of(words: list[str]) -> tuple[str, list[str]]:
    """(module, Hydra overrides) of a command: `-S key=value` of dvc exp run, the first value
    of a multirun's comma-separated sweep (a list in brackets stays whole)."""
    if words[0] == "dvc":
        module = "pipeline.dvc_exp"
        raw = [words[i + 1] for i, word in enumerate(words) if word == "-S"]
    else:
        module, raw = words[2], [w for w in words[3:] if not w.startswith("-")]
    overrides = []
    for override in raw:
        key, _, value = override.partition("=")
        if "," in value and not value.startswith("["):
            value = value.split(",")[0]
        overrides.append(f"{key}={value}")
    return module, overrides


COMMANDS = shown_commands()


def test_the_docs_show_commands_of_every_kind():
    modules = {overrides_of(words)[0] for _, words in COMMANDS}
    assert {"pipeline.stages.train", "pipeline.stages.generate", "pipeline.tune",
            "pipeline.stages.prepare", "pipeline.dvc_exp"} <= modules  # fmt: skip
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize(
    "page, words", COMMANDS, ids=[f"{page}:{' '.join(w[2:4])}" for page, w in COMMANDS]
)
def test_a_documented_command_composes_and_validates(page, words):
    module, overrides = overrides_of(words)
    if module == "pipeline.tune":
        cfg = compose_config(overrides, config_name="tune")
        validate(cfg, stage_schema("train"))
    elif module.startswith("pipeline.stages."):
        cfg = compose_config(overrides)
        validate(cfg, stage_schema(module.rsplit(".", 1)[1]))
    else:  # dvc exp run: params.yaml is composed from conf/ with the -S overrides
        validate(compose_config(overrides), all_stages_schema())


def test_a_renamed_key_in_a_shown_command_would_fail():
    """The check above can fail: an old key, as a page might still show it, is refused."""
    with pytest.raises(Exception, match="training.jit_compile|jit_compile"):
        validate(compose_config(["training.jit_compile=true"]), stage_schema("train"))
