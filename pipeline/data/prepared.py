"""The prepared format: uint8 arrays on disk and their meta.json, as `prepare` writes them
(pipeline.data.writer) and every later stage reads them. Nothing here reads raw releases (that is
pipeline.data.readers), so the stages that read prepared data do not depend on the readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import DatasetConfig
from pipeline.errors import PipelineError
from pipeline.io import read_json

META_FILE = "meta.json"


@dataclass
class RawDataset:
    name: str
    # (uint8 NHWC images, integer labels); an image folder's images are a FolderSplit,
    # decoded as prepare writes them
    train: tuple[Any, np.ndarray]
    test: tuple[Any, np.ndarray]
    class_names: list[str]
    source_sha256: dict[str, str]
    report: dict[str, Any] = field(default_factory=dict)  # what the reader found (files, sizes)
    title: str = ""  # the data's own name (an image folder's); "": the dataset's name


# 2: images stored as uint8 [0, 255] (a quarter of float32's bytes), read memory-mapped and
# mapped to [-1, 1] as they are used; 1 (float32 in [-1, 1]) is refused with the fix.
PREPARED_FORMAT = 2
# uint8 -> float32 [-1, 1], the generators' tanh range: one table that every reader of prepared
# images uses (NumPy here, tf.data in training), so all see the very same values.
UNIT_RANGE = np.arange(256, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


def normalize(images: Any) -> np.ndarray:
    """Prepared uint8 images -> float32 in [-1, 1]; float images (generated ones) pass as they
    are, as float32."""
    array = np.asarray(images)
    return UNIT_RANGE[array] if array.dtype == np.uint8 else array.astype(np.float32, copy=False)


@dataclass
class PreparedData:
    meta: dict[str, Any]
    directory: Path

    def images(self, split: str) -> np.ndarray:
        """uint8 NHWC, memory-mapped: read as used, never all at once (``normalize`` maps
        them to [-1, 1])."""
        return np.asarray(np.load(self.directory / f"{split}_images.npy", mmap_mode="r"))

    def labels(self, split: str) -> np.ndarray:
        return np.asarray(np.load(self.directory / f"{split}_labels.npy"))


def load_prepared(
    directory: str | Path,
    expected_dataset: str | None = None,
    dataset: DatasetConfig | None = None,
) -> PreparedData:
    """The prepared data in ``directory``, checked against the config's ``dataset`` section (or
    just its name, ``expected_dataset``): another dataset, or an image folder prepared at
    another size, is an error with the fix, never silently used."""
    directory = Path(directory)
    expected_dataset = expected_dataset or (dataset.name if dataset else None)
    if not (directory / META_FILE).is_file():
        raise PipelineError(
            f"no prepared data in {directory}",
            "run the prepare stage first: dvc repro prepare (or python -m pipeline.stages.prepare)",
        )
    meta = read_json(directory / META_FILE)
    if meta.get("format") != PREPARED_FORMAT:
        raise PipelineError(
            f"{directory} holds prepared data of an older format (float32 images)",
            "prepare it again: dvc repro (or python -m pipeline.stages.prepare)",
        )
    if expected_dataset and meta["dataset"] != expected_dataset:
        raise PipelineError(
            f"{directory} holds {meta['dataset']} but the config asks for {expected_dataset}",
            f"run python -m pipeline.stages.prepare dataset={expected_dataset} (or dvc repro) first",
        )
    for key, value in (meta.get("folder_settings") or {}).items():
        wanted = getattr(dataset, key, value)  # a source without the key cannot disagree
        if wanted != value:
            raise PipelineError(
                f"{directory} was prepared with dataset.{key}={value}, but the config asks "
                f"for dataset.{key}={wanted}",
                f"prepare it again with the config's settings (dvc repro, or python -m "
                f"pipeline.stages.prepare dataset.{key}={wanted}), or set "
                f"dataset.{key}={value}",
            )
    return PreparedData(meta, directory)
