"""Writes that never leave a half-written file behind: write to a temporary sibling, then rename."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.
    The temporary file names its writer's pid: one that a killed process left is removed by
    the next write of the same path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    # Keep the suffix last: some writers (keras .keras, numpy .npy) insist on it.
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.{os.getpid()}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if missing) for the block, across the processes of
    this host; released when the block ends or the process dies."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_orphans(path: Path) -> None:
    for leftover in path.parent.glob(f".{glob.escape(path.stem)}.*.tmp{glob.escape(path.suffix)}"):
        pid = leftover.name[len(path.stem) + 2 :].split(".")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            leftover.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether a process of this host with that pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces ``path`` as a whole on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = path.with_name(f".{path.name}.old")
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_writable(folders: dict[str, Path]) -> None:
    """Prove now that each folder (named by its config key) can be written, or made where it
    is missing (its nearest existing ancestor is a writable folder), so that a stage fails
    before its work rather than after it. Nothing is left behind."""
    from pipeline.errors import PipelineError

    for key, folder in folders.items():
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        try:
            if not existing.is_dir():
                raise NotADirectoryError(20, f"{existing} is a file, not a folder")
            fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=existing)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise PipelineError(
                f"cannot write to {folder} ({key}): {e.strerror or e}",
                f"make it writable (and check the disk has space), or set {key} to another folder",
            ) from None


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def repo_root(start: Path | None = None) -> Path:
    """The project root that runs are recorded under.

    DVC runs queued experiments in copies under ``<repo>/.dvc/tmp/exps/``; anything written
    there is thrown away, so such a copy resolves to the repository that holds it.
    """
    path = (start or Path.cwd()).resolve()
    parts = path.parts
    for i in range(len(parts) - 3):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    for candidate in (path, *path.parents):
        if (candidate / "dvc.yaml").exists() or (candidate / ".git").exists():
            return candidate
    return path


def progress(total: int | None, description: str, unit: str = "img", show: bool = True) -> Any:
    """A progress bar on a terminal; nothing where output goes to a file or a pipe (DVC's log,
    CI), which a bar would fill with carriage-return lines. ``show=False``: never."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, unit_scale=unit == "B",
                disable=None if show else True, leave=False)  # fmt: skip


def write_or_check(target: Path, text: str, check: bool, fix: str) -> int:
    """A generated file: write ``text`` to ``target``, or with ``check`` only compare (exit
    status 1 and the ``fix`` command when they differ). Returns the exit status."""
    import sys

    if check:
        if not target.is_file() or target.read_text() != text:
            print(f"{target} is stale (it differs from what generates it)\n  fix: {fix}",
                  file=sys.stderr)  # fmt: skip
            return 1
        print(f"{target} is up to date")
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0
