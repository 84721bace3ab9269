"""Parsers for the official dataset formats: IDX (gzip), the CIFAR-10 python tarball, image folders."""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError

_IDX_DTYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not), as published for MNIST and Fashion-MNIST."""
    path = Path(path)
    refetch = f"delete {path} and run prepare again to fetch a fresh copy"
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise PipelineError(f"cannot read IDX file {path}: {e}", refetch) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise PipelineError(
            f"corrupt IDX header in {path}: magic bytes {data[:4].hex() or 'missing'} "
            "(expected 0000 08 followed by the number of dimensions)",
            refetch,
        )
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if ndim == 0 or len(data) < header_size:
        raise PipelineError(f"corrupt IDX header in {path}: {ndim} dimensions", refetch)
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header_size != expected:
        raise PipelineError(
            f"corrupt IDX file {path}: header says shape {shape} ({expected} bytes) "
            f"but the file holds {len(data) - header_size} bytes of data",
            refetch,
        )
    return np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)


CIFAR10_TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR10_TEST_BATCH = "test_batch"


def read_cifar10_tarball(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read ``cifar-10-python.tar.gz``; returns {"train": (x, y), "test": (x, y)}, x as NHWC uint8.

    The batches are Python pickles: call this only on a file whose checksum was verified.
    """
    path = Path(path)
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if name not in (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH):
                    continue
                fileobj = tar.extractfile(member)
                if fileobj is None:
                    continue
                batch = pickle.load(fileobj, encoding="bytes")
                images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                labels = np.asarray(batch[b"labels"], dtype=np.uint8)
                batches[name] = (images.transpose(0, 2, 3, 1), labels)
    except (OSError, tarfile.TarError, EOFError, KeyError, pickle.UnpicklingError) as e:
        raise PipelineError(
            f"cannot read CIFAR-10 tarball {path}: {e}",
            f"delete {path} and run prepare again to fetch a fresh copy",
        ) from None
    missing = [b for b in (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH) if b not in batches]
    if missing:
        raise PipelineError(
            f"CIFAR-10 tarball {path} lacks {', '.join(missing)}",
            f"delete {path} and run prepare again to fetch a fresh copy",
        )
    train = [batches[b] for b in CIFAR10_TRAIN_BATCHES]
    return {
        "train": (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])),
        "test": batches[CIFAR10_TEST_BATCH],
    }
