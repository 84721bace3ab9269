"""The GitHub workflows (issue 8, #6), checked offline as GitHub would: the workflow schema
(check-jsonschema's vendored copy) and zizmor's security audit at medium severity, with the
repository's own zizmor config. Each check is shown to fail on a workflow with the fault."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.helpers.configs import ROOT
from tests.helpers.processes import run_command

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
BIN = Path(sys.executable).parent


def schema_check(*files: Path):
    return run_command(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, files),
        ]
    )


def zizmor(folder: Path):
    return run_command(
        [str(BIN / "zizmor"), "--offline", "--no-progress", "--min-severity", "medium",
         "--config", str(ZIZMOR_CONFIG), str(folder)]
    )  # fmt: skip


def test_both_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "release.yml", "retrain.yml"}


def test_workflows_match_githubs_schema():
    result = schema_check(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_at_medium_severity():
    result = zizmor(ROOT / ".github" / "workflows")
    assert result.returncode == 0, result.stdout + result.stderr


BAD = """
name: bad
on:
  workflow_dispatch:
    inputs:
      overrides: {type: string}
jobs:
  retrain:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: dvc exp run ${{ inputs.overrides }}
"""


def test_the_checks_catch_an_injectable_input_and_a_malformed_workflow(tmp_path):
    """The fault the retrain workflow once had: a dispatch input pasted into the shell."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text(BAD)
    result = zizmor(folder)
    assert result.returncode != 0
    assert "template-injection" in result.stdout + result.stderr
    (folder / "bad.yml").write_text(BAD.replace("runs-on: ubuntu-24.04", "runs_on: ubuntu"))
    assert schema_check(folder / "bad.yml").returncode != 0


def test_the_retrain_workflow_runs_the_tested_script():
    text = (ROOT / ".github" / "workflows" / "retrain.yml").read_text()
    assert "python scripts/ci_report.py retrain" in text
    assert "OVERRIDES: ${{ inputs.overrides }}" in text  # through env:, not the shell


def test_dependabot_config_matches_its_schema_and_covers_pip_and_actions():
    import yaml

    config = ROOT / ".github" / "dependabot.yml"
    result = run_command(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(config)]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ecosystems = {u["package-ecosystem"] for u in yaml.safe_load(config.read_text())["updates"]}
    assert ecosystems == {"pip", "github-actions"}
