"""The documentation site builds with `mkdocs build --strict` (a broken link, a missing page or
a page outside the nav fails), and the README stays a front page."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.configs import ROOT
from tests.helpers.processes import run_command

MKDOCS = Path(sys.executable).parent / "mkdocs"


@pytest.mark.skipif(not MKDOCS.exists() and not shutil.which("mkdocs"), reason="mkdocs missing")
def test_the_site_builds_strictly(tmp_path):
    result = run_command(
        [str(MKDOCS if MKDOCS.exists() else "mkdocs"), "build", "--strict", "--site-dir",
         str(tmp_path / "site")], env={"NO_MKDOCS_2_WARNING": "1"}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "site" / "architecture" / "index.html").is_file()


def test_every_page_is_in_the_nav():
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    listed = {page for entry in nav for page in entry.values()}
    assert {p.name for p in (ROOT / "docs").glob("*.md")} == listed


def test_the_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for command in ("bash scripts/setup.sh", "dvc repro", "python -m pytest"):
        assert command in readme


def test_the_configuration_reference_is_generated_from_the_schemas():
    """docs/reference.md: every key of every section and plug-in with its type, default,
    allowed values and meaning, and every preset, as the code and conf/ say now."""
    from pipeline import reference

    page = (ROOT / "docs" / "reference.md").read_text()
    assert reference.page() == page, "stale; fix: python -m pipeline.reference"
    assert "| `conditional` | bool or str |" in page and "| `params` | dict[str, Any] |" in page
    assert "| 2-core CPU (measured) | GPU (estimate) |" in page
    assert "| `experiment=cifar10_dcgan` | " in page and "| 19,500 | " in page
    for key in ("compute.jit_compile", "augment.diffaugment", "dataset=image_folder",
                "model=strided_dcgan", "regularizers=[r1]", "experiment=smoke"):  # fmt: skip
        _, _, name = key.partition(".")
        assert (f"`{name}`" if name else f"`{key}`") in page, key


def test_the_metrics_page_holds_the_catalog():
    from pipeline.evaluation import catalog

    page = (ROOT / "docs" / "metrics.md").read_text()
    assert catalog.refresh(page) == page, (
        "docs/metrics.md's table differs from pipeline/evaluation/catalog.py; "
        "fix: python -m pipeline.evaluation.catalog docs/metrics.md"
    )


def troubleshooting_patterns(page: str) -> list[re.Pattern[str]]:
    """Each `error: ...` line of the page as a regex, every `<name>` matching any text."""
    entries = page[page.index("\n## ") :]  # after the header's example
    lines = [line for line in entries.splitlines() if line.startswith(("error: ", "HTTP 400: "))]
    return [
        re.compile("".join(".*" if part.startswith("<") else re.escape(part)
                           for part in re.split(r"(<[^<>]*>)", line.split(": ", 1)[1])) + "$")
        for line in lines
    ]  # fmt: skip


def test_the_troubleshooting_page_is_generated_from_the_errors_the_code_raises(tmp_path):
    """docs/troubleshooting.md holds every PipelineError and served-model refusal as printed;
    a real error of a stage matches one of its entries."""
    from pipeline import troubleshooting
    from pipeline.errors import PipelineError
    from pipeline.stages.prepare import prepare
    from tests.helpers.configs import compose_config, output_overrides, validate_all

    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert troubleshooting.page() == page, "stale; fix: python -m pipeline.troubleshooting"
    found = troubleshooting.messages()
    assert len(found) >= 80 and sum(m.refusal for m in found) >= 5
    assert "error: image folder <root> does not exist" in page
    assert "HTTP 400: label <value> is not a class; the classes are: <classes>" in page
    assert "'<old>' was renamed '<new>' in 0.2.0" in page  # a message a helper makes

    cfg = validate_all(compose_config(
        ["dataset=image_folder", f"dataset.raw_dir={tmp_path / 'nowhere'}",
         *output_overrides(tmp_path)]))  # fmt: skip
    with pytest.raises(PipelineError) as raised:
        prepare(cfg)
    problem = raised.value.problem
    assert any(p.match(problem) for p in troubleshooting_patterns(page)), problem
    assert not any(p.match("no such message") for p in troubleshooting_patterns(page))


def test_the_package_version_is_released_in_the_changelog():
    """pyproject.toml's version has its dated section in CHANGELOG.md (what the release
    workflow checks on a tag), under an Unreleased section, each version once."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import release

    version = release.package_version()
    assert release.problems(f"v{version}") == []
    import pipeline

    assert pipeline.__version__ == version, "reinstall: pip install -e ."
    headings = re.findall(r"^## (.*)$", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[0] == "[Unreleased]"
    assert re.fullmatch(rf"\[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}", headings[1])
    assert all(re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", h) for h in headings[1:])
    assert len(set(headings)) == len(headings)
