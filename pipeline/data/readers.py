"""Readers: a dataset's raw files -> uint8 arrays (RawDataset), one function per format.

Every reader has one signature, ``reader(spec, dataset_cfg, raw_dir, seed) -> RawDataset``, and
is named by the specs that use it (pipeline.data.specs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.data import formats
from pipeline.data.images import Decoding, FolderSplit, scan_folder
from pipeline.data.prepared import RawDataset
from pipeline.data.sources import DatasetSpec, locate_raw_files
from pipeline.errors import PipelineError


def _official_files(spec: DatasetSpec, cfg: Mapping[str, Any], raw_dir: Path) -> dict[str, Path]:
    return locate_raw_files(spec, raw_dir, mirror=cfg["mirror"], download=cfg["download"])


def _sources(spec: DatasetSpec) -> dict[str, str]:
    return {raw.name: raw.sha256 for raw in spec.files}


def read_idx_release(
    spec: DatasetSpec, cfg: Mapping[str, Any], raw_dir: Path, seed: int = 0
) -> RawDataset:
    """MNIST-style releases: {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz."""
    files = _official_files(spec, cfg, raw_dir)
    train = _read_idx_pair(files, "train")
    test = _read_idx_pair(files, "t10k")
    return RawDataset(spec.name, train, test, list(spec.class_names), _sources(spec))


def _read_idx_pair(files: dict[str, Path], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images = formats.read_idx(files[f"{prefix}-images-idx3-ubyte.gz"])
    labels = formats.read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise PipelineError(
            f"{prefix} images {images.shape} and labels {labels.shape} do not match",
            "delete the raw files and run prepare again to fetch fresh copies",
        )
    return images[..., None], labels


def read_cifar10_release(
    spec: DatasetSpec, cfg: Mapping[str, Any], raw_dir: Path, seed: int = 0
) -> RawDataset:
    """The CIFAR-10 python tarball, verified before its pickled batches are read."""
    files = _official_files(spec, cfg, raw_dir)
    (path,) = files.values()
    splits = formats.read_cifar10_tarball(path)
    return RawDataset(
        spec.name, splits["train"], splits["test"], list(spec.class_names), _sources(spec)
    )


def read_image_folder(
    spec: DatasetSpec, cfg: Mapping[str, Any], raw_dir: Path, seed: int = 0
) -> RawDataset:
    """Every image under ``raw_dir`` (pipeline.data.images), found and de-duplicated now and
    decoded as prepare writes it; a seeded split keeps ``test_fraction`` of them as the test
    set."""
    decoding = Decoding(
        cfg["image_size"], cfg["channels"], cfg["resize"], cfg["pad_color"], cfg["on_bad_file"]
    )
    scan = scan_folder(raw_dir)
    count = len(scan.files)
    if count < 2:
        raise PipelineError(
            f"image folder {raw_dir} holds {count} image; a train/test split needs at least 2",
            "add more images",
        )
    order = np.random.default_rng(seed).permutation(count)
    n_test = min(max(1, round(count * cfg["test_fraction"])), count - 1)

    def split(indices: np.ndarray) -> tuple[FolderSplit, np.ndarray]:
        files = [scan.files[i] for i in indices]
        return FolderSplit(scan, files, scan.labels[indices], decoding), scan.labels[indices]

    digest = hashlib.sha256()  # over every image file found, by name, in order
    for name, sha256 in sorted(scan.sha256.items()):
        digest.update(name.encode())
        digest.update(sha256.encode())
    return RawDataset(
        spec.name,
        split(order[n_test:]),
        split(order[:n_test]),
        scan.class_names,
        {"image_folder": digest.hexdigest()},
        report={**scan.report, "resize": cfg["resize"]},
        title=Path(raw_dir).resolve().name,
    )
