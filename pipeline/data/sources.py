"""Where raw dataset files come from: a local folder, a system copy, the Keras cache, or a download.

Every file is checked against the sha256 of the official release before it is parsed.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from pipeline.errors import PipelineError
from pipeline.io import atomic_path, sha256_file


@dataclass(frozen=True)
class RawFile:
    name: str
    sha256: str


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset's raw release is made of and where copies of it may lie."""

    name: str
    files: tuple[RawFile, ...]
    base_url: str
    class_names: tuple[str, ...]
    # Folders other programs install the same files into, searched after the local folder.
    system_dirs: tuple[str, ...] = ()
    # Sub-folder of ~/.keras/datasets where keras.datasets keeps them, and other names it uses.
    keras_cache_dir: str | None = None
    keras_cache_aliases: dict[str, str] = field(default_factory=dict)


FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    # The upstream release (zalandoresearch/fashion-mnist) as Keras downloads it; the same files
    # as Debian's dataset-fashion-mnist package.
    files=(
        RawFile(
            "train-images-idx3-ubyte.gz",
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        ),
        RawFile(
            "train-labels-idx1-ubyte.gz",
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        ),
        RawFile(
            "t10k-images-idx3-ubyte.gz",
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        ),
        RawFile(
            "t10k-labels-idx1-ubyte.gz",
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
        ),
    ),
    base_url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    keras_cache_dir="fashion-mnist",
)

MNIST = DatasetSpec(
    name="mnist",
    files=(
        RawFile(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        RawFile(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        RawFile(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        RawFile(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    ),
    # The mirror TensorFlow uses since yann.lecun.com stopped serving the files.
    base_url="https://storage.googleapis.com/cvdf-datasets/mnist/",
    class_names=tuple(str(d) for d in range(10)),
    system_dirs=("/usr/share/datasets/mnist",),
    keras_cache_dir="mnist",
)

CIFAR10 = DatasetSpec(
    name="cifar10",
    files=(
        RawFile(
            "cifar-10-python.tar.gz",
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        ),
    ),
    base_url="https://www.cs.toronto.edu/~kriz/",
    class_names=(
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
    keras_cache_dir="",
    # keras.datasets.cifar10 saves the same tarball under another name.
    keras_cache_aliases={"cifar-10-python.tar.gz": "cifar-10-batches-py.tar.gz"},
)

SPECS = {spec.name: spec for spec in (FASHION_MNIST, MNIST, CIFAR10)}


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
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=f"download {destination.name}"
            ) as bar:
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
