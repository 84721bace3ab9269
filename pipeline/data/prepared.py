"""Raw dataset -> normalized arrays on disk (the `prepare` stage's work), and reading them back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data import formats
from pipeline.data.sources import SPECS, DatasetSpec, locate_raw_files
from pipeline.errors import PipelineError
from pipeline.io import atomic_dir, read_json, sha256_file, write_json

META_FILE = "meta.json"


@dataclass
class RawDataset:
    name: str
    train: tuple[np.ndarray, np.ndarray]  # uint8 NHWC images, integer labels
    test: tuple[np.ndarray, np.ndarray]
    class_names: list[str]
    source_sha256: dict[str, str]


def load_raw(
    name: str,
    raw_dir: Path,
    *,
    mirror: str | None = None,
    download: bool = True,
    image_size: int = 64,
    channels: int = 3,
    test_fraction: float = 0.1,
    seed: int = 0,
    spec: DatasetSpec | None = None,
) -> RawDataset:
    """Load a dataset's official release (or an image folder) as uint8 arrays."""
    if name == "image_folder":
        return _load_image_folder(raw_dir, image_size, channels, test_fraction, seed)
    spec = spec or SPECS[name]
    files = locate_raw_files(spec, raw_dir, mirror=mirror, download=download)
    sources = {raw.name: raw.sha256 for raw in spec.files}
    if "cifar-10-python.tar.gz" in files:
        splits = formats.read_cifar10_tarball(files["cifar-10-python.tar.gz"])
        train, test = splits["train"], splits["test"]
    else:
        train = _read_idx_pair(files, "train")
        test = _read_idx_pair(files, "t10k")
    return RawDataset(name, train, test, list(spec.class_names), sources)


def _read_idx_pair(files: dict[str, Path], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images = formats.read_idx(files[f"{prefix}-images-idx3-ubyte.gz"])
    labels = formats.read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise PipelineError(
            f"{prefix} images {images.shape} and labels {labels.shape} do not match",
            "delete the raw files and run prepare again to fetch fresh copies",
        )
    return images[..., None], labels


def _load_image_folder(
    root: Path, image_size: int, channels: int, test_fraction: float, seed: int
) -> RawDataset:
    images, labels, classes = formats.read_image_folder(root, image_size, channels)
    if len(images) < 2:
        raise PipelineError(
            f"image folder {root} holds {len(images)} image; a train/test split needs at least 2",
            "add more images",
        )
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = min(max(1, round(len(images) * test_fraction)), len(images) - 1)
    test_idx, train_idx = order[:n_test], order[n_test:]
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in formats.IMAGE_EXTENSIONS):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(sha256_file(path).encode())
    return RawDataset(
        "image_folder",
        (images[train_idx], labels[train_idx]),
        (images[test_idx], labels[test_idx]),
        [c or "all" for c in classes],
        {"image_folder": digest.hexdigest()},
    )


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1], the range of the generators' tanh output."""
    return images.astype(np.float32) / 127.5 - 1.0


def dataset_checksum(source_sha256: dict[str, str]) -> str:
    """One checksum for a dataset release: sha256 over its files' names and sha256s."""
    digest = hashlib.sha256()
    for name in sorted(source_sha256):
        digest.update(f"{name}:{source_sha256[name]}\n".encode())
    return digest.hexdigest()


def write_prepared(raw: RawDataset, out_dir: Path, limit: int | None = None) -> dict:
    """Write normalized train/test arrays and meta.json; replaces ``out_dir`` only when complete."""
    meta = {
        "dataset": raw.name,
        "shape": list(raw.train[0].shape[1:]),
        "value_range": [-1.0, 1.0],
        "class_names": raw.class_names,
        "source_files_sha256": raw.source_sha256,
        "checksum": dataset_checksum(raw.source_sha256),
        "limit": limit,
        "counts": {},
    }
    with atomic_dir(out_dir) as tmp:
        for split, (images, labels) in (("train", raw.train), ("test", raw.test)):
            images, labels = images[:limit], labels[:limit]
            np.save(tmp / f"{split}_images.npy", normalize(images))
            np.save(tmp / f"{split}_labels.npy", labels.astype(np.int32))
            meta["counts"][split] = len(images)
        write_json(tmp / META_FILE, meta)
    return meta


@dataclass
class PreparedData:
    meta: dict
    directory: Path

    def images(self, split: str) -> np.ndarray:
        return np.load(self.directory / f"{split}_images.npy", mmap_mode="r")

    def labels(self, split: str) -> np.ndarray:
        return np.load(self.directory / f"{split}_labels.npy")


def load_prepared(directory: str | Path, expected_dataset: str | None = None) -> PreparedData:
    directory = Path(directory)
    if not (directory / META_FILE).is_file():
        raise PipelineError(
            f"no prepared data in {directory}",
            "run the prepare stage first: dvc repro prepare (or python -m pipeline.prepare)",
        )
    meta = read_json(directory / META_FILE)
    if expected_dataset and meta["dataset"] != expected_dataset:
        raise PipelineError(
            f"{directory} holds {meta['dataset']} but the config asks for {expected_dataset}",
            f"run python -m pipeline.prepare dataset={expected_dataset} (or dvc repro) first",
        )
    return PreparedData(meta, directory)
