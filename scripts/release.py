"""Release checks and notes, for the tag-triggered release workflow (.github/workflows/release.yml).

    python scripts/release.py check v0.2.0   # the tag is pyproject's version, and CHANGELOG.md
                                             # has its section: exit 1 with the fix otherwise
    python scripts/release.py notes v0.2.0   # that section, the GitHub release's notes

Cutting a release: move CHANGELOG.md's "Unreleased" entries under "## [X.Y.Z] - <date>", set
`version = "X.Y.Z"` in pyproject.toml, commit, then `git tag vX.Y.Z && git push origin vX.Y.Z`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def package_version(root: Path = ROOT) -> str:
    return str(tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"])


def changelog_section(version: str, root: Path = ROOT) -> str | None:
    """The body of ``## [version]`` in CHANGELOG.md (Keep a Changelog), or None."""
    text = (root / "CHANGELOG.md").read_text()
    match = re.search(
        rf"^## \[{re.escape(version)}\][^\n]*\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL
    )
    return match.group(1).strip() if match else None


def problems(tag: str, root: Path = ROOT) -> list[str]:
    """What stops ``tag`` from being released, each with its fix."""
    found = []
    version = package_version(root)
    if not re.fullmatch(r"v\d+\.\d+\.\d+", tag):
        found.append(f"tag {tag!r} is not a semantic version: tag releases vX.Y.Z")
    elif tag != f"v{version}":
        found.append(f"tag {tag} but pyproject.toml says {version}: set version = "
                     f'"{tag[1:]}" in pyproject.toml, or tag v{version}')  # fmt: skip
    if changelog_section(tag.lstrip("v"), root) is None:
        found.append(f"CHANGELOG.md has no '## [{tag.lstrip('v')}]' section: move the "
                     "Unreleased entries under it")  # fmt: skip
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("check", "notes"):
        print(__doc__, file=sys.stderr)
        return 2
    command, tag = argv
    found = problems(tag)
    if found:
        for problem in found:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    if command == "notes":
        print(changelog_section(tag.lstrip("v")))
    else:
        print(f"{tag}: pyproject.toml and CHANGELOG.md agree")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
