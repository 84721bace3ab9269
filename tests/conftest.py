"""Shared fixtures: the real Hydra config, tiny files in the official formats, a local HTTP server."""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import pipeline  # noqa: F401  (sets TensorFlow's log level before anything imports it)
from pipeline.config import validate

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def compose_config(overrides: list[str] | None = None):
    """The real conf/ composed with overrides, as `python -m pipeline.<stage>` would see it."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides or [])


@pytest.fixture
def smoke_cfg(tmp_path):
    """The smoke preset with every output and the MLflow store under tmp_path."""
    cfg = compose_config(
        [
            "experiment=smoke",
            f"paths.raw={tmp_path / 'raw'}",
            f"paths.prepared={tmp_path / 'prepared'}",
            f"paths.models={tmp_path / 'models'}",
            f"paths.metrics={tmp_path / 'metrics'}",
            f"paths.plots={tmp_path / 'plots'}",
            f"paths.checkpoints={tmp_path / 'checkpoints'}",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
        ]
    )
    return validate(cfg)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` (uint8) in the IDX format, gzip-compressed like the official releases."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    return path


def write_mnist_like(folder: Path, n_train: int = 40, n_test: int = 12, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    return folder


def write_cifar_like(path: Path, per_batch: int = 6, seed: int = 0) -> Path:
    """A tarball laid out like cifar-10-python.tar.gz, with tiny batches."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {
                b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                b"labels": list(rng.integers(0, 10, per_batch)),
            }
            blob = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields (folder, base_url)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def run_module(module: str, *args: str, cwd: Path = ROOT, env: dict | None = None, timeout=600):
    """Run ``python -m module args`` as a user would; returns the CompletedProcess."""
    return run_command([sys.executable, "-m", module, *args], cwd=cwd, env=env, timeout=timeout)


def run_command(cmd: list[str], cwd: Path = ROOT, env: dict | None = None, timeout=600):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
