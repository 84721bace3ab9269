"""Keep params.yaml equal to what DVC composes from conf/.

    python -m pipeline.params           # rewrite params.yaml from conf/
    python -m pipeline.params --check   # exit 1 if params.yaml has drifted from conf/

`dvc exp run` composes params.yaml itself; `dvc repro` uses the file as committed, so it must be
regenerated after conf/ changes. This calls DVC's own composition function, so the result is
byte-for-byte what `dvc exp run` would write.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from dvc.utils.hydra import compose_and_dump

from pipeline.io import repo_root, write_or_check


def compose_params(output: Path, root: Path, overrides: list[str] | None = None) -> None:
    compose_and_dump(output, str(root / "conf"), None, "config", str(root), overrides or [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args()
    root = repo_root()
    target = root / "params.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        composed = Path(tmp) / "params.yaml"
        compose_params(composed, root)
        text = composed.read_text()
    return write_or_check(target, text, args.check, "python -m pipeline.params")


if __name__ == "__main__":
    sys.exit(main())
