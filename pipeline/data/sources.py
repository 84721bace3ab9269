"""Where raw dataset files come from: a local folder, a system copy, the Keras cache, or a download.

What a release holds is a DatasetSpec (pipeline.data.specs).

Every file is checked against the sha256 of the official release before it is parsed.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.data.specs import DatasetSpec, RawFile
from pipeline.errors import PipelineError
from pipeline.io import atomic_path, progress, sha256_file


def candidate_dirs(spec: DatasetSpec, local_dir: Path) -> list[Path]:
    """Folders searched for raw files, in order: local, system copies, the Keras cache."""
    dirs = [local_dir, *(Path(d) for d in spec.system_dirs)]
    if spec.keras_cache_dir is not None:
        dirs.append(Path.home() / ".keras" / "datasets" / spec.keras_cache_dir)
    return dirs


def locate_raw_files(
    spec: DatasetSpec, local_dir: Path, mirror: str | None = None, download: bool = True
) -> dict[str, Path]:
    """Find (or download into ``local_dir``) every raw file of ``spec``, each checksum-verified."""
    found: dict[str, Path] = {}
    for raw in spec.files:
        found[raw.name] = _locate_one(spec, raw, local_dir, mirror, download)
    return found


def _locate_one(
    spec: DatasetSpec, raw: RawFile, local_dir: Path, mirror: str | None, download: bool
) -> Path:
    searched = []
    for folder in candidate_dirs(spec, local_dir):
        for name in (raw.name, spec.keras_cache_aliases.get(raw.name)):
            if name is None:
                continue
            path = folder / name
            searched.append(str(path))
            if path.is_file():
                verify_checksum(path, raw.sha256)
                return path
    if not download:
        raise PipelineError(
            f"{spec.name}: raw file {raw.name} not found (looked in {', '.join(searched)}) "
            "and dataset.download is false",
            f"copy the official files into {local_dir} or set dataset.download=true",
        )
    url = (mirror or spec.base_url).rstrip("/") + "/" + raw.name
    destination = local_dir / raw.name
    try:
        download_file(url, destination, raw.sha256)
    except OSError as e:  # URLError and HTTPError are OSErrors
        reason = getattr(e, "reason", e)
        raise PipelineError(
            f"{spec.name}: raw file {raw.name} not found (looked in {', '.join(searched)}) "
            f"and downloading {url} failed: {reason}",
            f"copy the official files into {local_dir} (or set dataset.raw_dir to their folder), "
            "or run where the download URL is reachable",
        ) from None
    return destination


def verify_checksum(path: Path, expected_sha256: str) -> None:
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise PipelineError(
            f"checksum mismatch for {path}: sha256 {actual}, expected {expected_sha256} "
            "(a corrupt, truncated or different file)",
            f"delete {path} and run prepare again to fetch the official file",
        )


def download_file(url: str, destination: Path, expected_sha256: str, timeout: float = 30) -> None:
    """Stream ``url`` to ``destination`` with a progress bar; keep it only if the sha256 matches."""
    with atomic_path(destination) as tmp:
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress(total, f"download {destination.name}", "B") as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != expected_sha256:
            raise PipelineError(
                f"checksum mismatch for download {url}: sha256 {digest.hexdigest()}, "
                f"expected {expected_sha256}; the file was not kept",
                "try again later or download from another mirror (dataset.mirror=<base url>)",
            )
