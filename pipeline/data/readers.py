"""Readers: a dataset's raw files -> uint8 arrays (RawDataset), one function per format.

Every reader has one signature, ``reader(spec, settings, raw_dir) -> RawDataset``, where
``settings`` is the dataset section typed by the source's own schema (pipeline.data.settings),
and is named by the specs that use it (pipeline.data.specs). Only prepare reads raw files: the
other stages know the sources by their specs, and a change here reruns prepare alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np

from pipeline.config import DatasetConfig
from pipeline.data import formats
from pipeline.data.images import Decoding, FolderSplit, scan_folder
from pipeline.data.prepared import RawDataset
from pipeline.data.settings import ImageFolderConfig, ReleaseConfig
from pipeline.data.sources import locate_raw_files
from pipeline.data.specs import DATASETS, DatasetSpec
from pipeline.errors import PipelineError


def _official_files(spec: DatasetSpec, cfg: ReleaseConfig, raw_dir: Path) -> dict[str, Path]:
    return locate_raw_files(spec, raw_dir, mirror=cfg.mirror, download=cfg.download)


def _sources(spec: DatasetSpec) -> dict[str, str]:
    return {raw.name: raw.sha256 for raw in spec.files}


def read_idx_release(spec: DatasetSpec, cfg: ReleaseConfig, raw_dir: Path) -> RawDataset:
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


def read_cifar10_release(spec: DatasetSpec, cfg: ReleaseConfig, raw_dir: Path) -> RawDataset:
    """The CIFAR-10 python tarball, verified before its pickled batches are read."""
    files = _official_files(spec, cfg, raw_dir)
    (path,) = files.values()
    splits = formats.read_cifar10_tarball(path)
    return RawDataset(
        spec.name, splits["train"], splits["test"], list(spec.class_names), _sources(spec)
    )


def read_image_folder(spec: DatasetSpec, cfg: ImageFolderConfig, raw_dir: Path) -> RawDataset:
    """Every image under ``raw_dir`` (pipeline.data.images), found and de-duplicated now and
    decoded as prepare writes it; a seeded split keeps ``test_fraction`` of them as the test
    set."""
    decoding = Decoding(cfg.image_size, cfg.channels, cfg.resize, cfg.pad_color, cfg.on_bad_file)
    scan = scan_folder(raw_dir)
    count = len(scan.files)
    if count < 2:
        raise PipelineError(
            f"image folder {raw_dir} holds {count} image; a train/test split needs at least 2",
            "add more images",
        )
    order = np.random.default_rng(cfg.split_seed).permutation(count)
    n_test = min(max(1, round(count * cfg.test_fraction)), count - 1)

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
        report={**scan.report, "resize": cfg.resize},
        title=Path(raw_dir).resolve().name,
    )


def reader_of(spec: DatasetSpec) -> Callable[..., RawDataset]:
    """The reader a spec names: a function of this module by its name, or a function."""
    if callable(spec.reader):
        return spec.reader
    reader = globals().get(spec.reader)
    if not callable(reader):  # a spec naming a reader this module lacks: a programming error
        raise ValueError(f"dataset {spec.name}'s reader {spec.reader!r} is not a function of "
                         f"{__name__}")  # fmt: skip
    return cast(Callable[..., RawDataset], reader)


def load_raw(settings: DatasetConfig, raw_root: str | Path) -> RawDataset:
    """The configured dataset as uint8 arrays, read by its spec's reader from
    ``settings.raw_dir`` (default ``<raw_root>/<name>``)."""
    spec = DATASETS.get(settings.name)
    raw_dir = Path(settings.raw_dir or Path(raw_root) / spec.name)
    return reader_of(spec)(spec, settings, raw_dir)


def read_local(name: str, raw_dir: str | Path) -> RawDataset:
    """Release ``name`` read from the files in ``raw_dir``, never downloaded (tests,
    benchmarks and notebooks that have the files)."""
    spec = DATASETS.get(name)
    settings = ReleaseConfig(name=name, raw_dir=str(raw_dir), limit=None, title=None,
                             mirror=None, download=False)  # fmt: skip
    return reader_of(spec)(spec, settings, Path(raw_dir))
