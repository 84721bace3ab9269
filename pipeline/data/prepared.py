"""The prepared format: normalized arrays on disk, as `prepare` writes them and every later
stage reads them. Nothing here reads raw releases (that is pipeline.data.readers), so the stages
that read prepared data do not depend on the readers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.io import atomic_dir, read_json, write_json

META_FILE = "meta.json"


@dataclass
class RawDataset:
    name: str
    train: tuple[np.ndarray, np.ndarray]  # uint8 NHWC images, integer labels
    test: tuple[np.ndarray, np.ndarray]
    class_names: list[str]
    source_sha256: dict[str, str]
    report: dict[str, Any] = field(default_factory=dict)  # what the reader found (files, sizes)
    title: str = ""  # the data's own name (an image folder's); "": the dataset's name


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1], the range of the generators' tanh output."""
    return images.astype(np.float32) / 127.5 - 1.0


def dataset_checksum(source_sha256: dict[str, str]) -> str:
    """One checksum for a dataset release: sha256 over its files' names and sha256s."""
    digest = hashlib.sha256()
    for name in sorted(source_sha256):
        digest.update(f"{name}:{source_sha256[name]}\n".encode())
    return digest.hexdigest()


def title_of(raw: RawDataset, chosen: str | None = None) -> str:
    """The data's name in registered models: ``chosen`` (dataset.title), else the reader's (an
    image folder's name), else the dataset's; characters a model URI cannot hold become "_"."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", chosen or raw.title or raw.name).strip("_") or raw.name


# The settings an image folder is prepared with, which later stages' config must agree with.
FOLDER_SETTINGS = ("image_size", "channels", "resize")


def write_prepared(
    raw: RawDataset,
    out_dir: Path,
    limit: int | None = None,
    title: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> dict:
    """Write normalized train/test arrays and meta.json; replaces ``out_dir`` only when complete.
    ``settings``: the dataset section, recorded for image folders (``FOLDER_SETTINGS``)."""
    meta: dict[str, Any] = {
        "dataset": raw.name,
        "title": title_of(raw, title),
        "shape": list(raw.train[0].shape[1:]),
        "value_range": [-1.0, 1.0],
        "class_names": raw.class_names,
        "source_files_sha256": raw.source_sha256,
        "checksum": dataset_checksum(raw.source_sha256),
        "limit": limit,
        "counts": {},
    }
    if raw.report.get("files_found") is not None and settings is not None:  # an image folder
        meta["folder_settings"] = {key: settings[key] for key in FOLDER_SETTINGS}
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


def load_prepared(
    directory: str | Path,
    expected_dataset: str | None = None,
    dataset: Mapping[str, Any] | None = None,
) -> PreparedData:
    """The prepared data in ``directory``, checked against the config's ``dataset`` section (or
    just its name, ``expected_dataset``): another dataset, or an image folder prepared at
    another size, is an error with the fix, never silently used."""
    directory = Path(directory)
    expected_dataset = expected_dataset or (dataset["name"] if dataset else None)
    if not (directory / META_FILE).is_file():
        raise PipelineError(
            f"no prepared data in {directory}",
            "run the prepare stage first: dvc repro prepare (or python -m pipeline.stages.prepare)",
        )
    meta = read_json(directory / META_FILE)
    if expected_dataset and meta["dataset"] != expected_dataset:
        raise PipelineError(
            f"{directory} holds {meta['dataset']} but the config asks for {expected_dataset}",
            f"run python -m pipeline.stages.prepare dataset={expected_dataset} (or dvc repro) first",
        )
    for key, value in (meta.get("folder_settings") or {}).items():
        if dataset is not None and dataset[key] != value:
            raise PipelineError(
                f"{directory} was prepared with dataset.{key}={value}, but the config asks "
                f"for dataset.{key}={dataset[key]}",
                f"prepare it again with the config's settings (dvc repro, or python -m "
                f"pipeline.stages.prepare dataset.{key}={dataset[key]}), or set "
                f"dataset.{key}={value}",
            )
    return PreparedData(meta, directory)
