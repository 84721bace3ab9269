"""The release workflow's steps, run as a dry run: the tag/version/changelog check, the notes it
publishes, and the build of the sdist and the wheel with `twine check` (what
.github/workflows/release.yml runs on a version tag)."""

from __future__ import annotations

import shutil
import sys

from tests.helpers.configs import ROOT
from tests.helpers.processes import run_command

SCRIPT = ROOT / "scripts" / "release.py"
CHANGELOG = """# Changelog

## [Unreleased]

## [0.2.0] - 2026-12-05

### Breaking
- training split by concern.

## [0.1.0] - 2026-11-24

- first.
"""


def project_copy(tmp_path, version: str, changelog: str = CHANGELOG):
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "release.py")
    text = (ROOT / "pyproject.toml").read_text()
    current = text.split('version = "', 1)[1].split('"', 1)[0]
    (tmp_path / "pyproject.toml").write_text(
        text.replace(f'version = "{current}"', f'version = "{version}"', 1)
    )
    (tmp_path / "CHANGELOG.md").write_text(changelog)
    return tmp_path / "scripts" / "release.py"


def test_a_tag_releases_only_the_version_and_changelog_section_it_names(tmp_path):
    script = project_copy(tmp_path, "0.2.0")
    ok = run_command([sys.executable, str(script), "check", "v0.2.0"])
    assert ok.returncode == 0, ok.stderr
    notes = run_command([sys.executable, str(script), "notes", "v0.2.0"])
    assert notes.stdout.strip() == "### Breaking\n- training split by concern."
    other = run_command([sys.executable, str(script), "check", "v0.3.0"])
    assert other.returncode == 1
    assert "pyproject.toml says 0.2.0" in other.stderr and "no '## [0.3.0]' section" in other.stderr
    assert run_command([sys.executable, str(script), "check", "release-1"]).returncode == 1


def test_the_sdist_and_wheel_build_and_pass_twine_check(tmp_path):
    """The build the release attaches, with the licence files inside (a dry run)."""
    out = tmp_path / "dist"
    built = run_command([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                        timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    files = sorted(p.name for p in out.iterdir())
    assert any(f.endswith(".tar.gz") for f in files) and any(f.endswith(".whl") for f in files)
    checked = run_command(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, out.iterdir())]
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    import zipfile

    wheel = next(out.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith("licenses/LICENSE") for n in names), "the licence ships in the wheel"
