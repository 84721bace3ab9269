"""Writing the prepared format (pipeline.data.prepared): what `prepare` does with a dataset it
has read. Only the prepare stage imports this."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import DatasetConfig
from pipeline.data.images import FolderSplit, check_unreadable
from pipeline.data.prepared import META_FILE, PREPARED_FORMAT, RawDataset
from pipeline.errors import PipelineError
from pipeline.io import atomic_dir, write_json


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
    settings: DatasetConfig | None = None,
) -> dict[str, Any]:
    """Write the train/test arrays (uint8) and meta.json; replaces ``out_dir`` only when
    complete. An image folder's splits (``FolderSplit``) are decoded as they are written, a
    chunk at a time, so the folder never sits in memory whole. ``settings``: the dataset section,
    recorded for image folders (``FOLDER_SETTINGS``)."""
    meta: dict[str, Any] = {
        "dataset": raw.name,
        "title": title_of(raw, title),
        "shape": list(raw.train[0].shape[1:]),
        "format": PREPARED_FORMAT,
        "stored_as": "uint8",  # read with pipeline.data.prepared.normalize: [-1, 1]
        "class_names": raw.class_names,
        "source_files_sha256": raw.source_sha256,
        "checksum": dataset_checksum(raw.source_sha256),
        "limit": limit,
        "counts": {},
    }
    if raw.report.get("files_found") is not None and settings is not None:  # an image folder
        meta["folder_settings"] = {key: getattr(settings, key) for key in FOLDER_SETTINGS}
    with atomic_dir(out_dir) as tmp:
        for split, (images, labels) in (("train", raw.train), ("test", raw.test)):
            if isinstance(images, FolderSplit):
                labels = write_folder_split(images.limited(limit), tmp, split, raw.report)
            else:
                images, labels = images[:limit], labels[:limit]
                np.save(tmp / f"{split}_images.npy", np.asarray(images, np.uint8))
            np.save(tmp / f"{split}_labels.npy", np.asarray(labels, np.int32))
            meta["counts"][split] = len(labels)
        if isinstance(raw.train[0], FolderSplit):  # every split tried: name every bad file
            check_unreadable(raw.report, raw.train[0].decoding)
        for split, count in meta["counts"].items():
            if not count:
                raise PipelineError(
                    f"the {split} split of {raw.name} holds no readable image",
                    "add images to the folder (or fewer unreadable ones), or raise "
                    "dataset.test_fraction",
                )
        write_json(tmp / META_FILE, meta)
    return meta


def write_folder_split(
    split: FolderSplit, folder: Path, name: str, report: dict[str, Any]
) -> np.ndarray:
    """Decode ``split`` row by row into ``<name>_images.npy``; returns the kept rows' labels."""
    writer = RowWriter(folder / f"{name}_images.npy", split.decoding.row_shape, len(split))
    labels = []
    try:
        for pixels, label in split.rows(report):
            writer.append(pixels)
            labels.append(label)
    finally:
        writer.close()
    report["images_kept"] = report.get("images_kept", 0) + len(labels)
    return np.array(labels, dtype=np.int32)


class RowWriter:
    """An .npy file of uint8 rows written one at a time, with the header written first for the
    ``expected`` number of rows: memory holds one row. When fewer arrive (unreadable files
    skipped), ``close`` rewrites the file with the true count, copying the rows in chunks."""

    def __init__(self, path: Path, row_shape: tuple[int, ...], expected: int) -> None:
        self.path, self.row_shape, self.expected, self.count = path, row_shape, expected, 0
        self.file = open(path, "wb")  # noqa: SIM115 (closed by close())
        self._header(self.file, expected)
        self.start = self.file.tell()

    def _header(self, file: Any, count: int) -> None:
        header = {"descr": "|u1", "fortran_order": False, "shape": (count, *self.row_shape)}
        np.lib.format.write_array_header_1_0(file, header)

    def append(self, row: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(row, np.uint8).tobytes())
        self.count += 1

    def close(self) -> None:
        self.file.close()
        if self.count == self.expected:
            return
        scratch = self.path.with_suffix(".rows")
        os.replace(self.path, scratch)
        with open(scratch, "rb") as rows, open(self.path, "wb") as out:
            self._header(out, self.count)
            rows.seek(self.start)
            remaining = self.count * int(np.prod(self.row_shape))
            while remaining:
                chunk = rows.read(min(remaining, 1 << 24))
                out.write(chunk)
                remaining -= len(chunk)
        scratch.unlink()
