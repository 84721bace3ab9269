"""The prepare stage as a command: real Fashion-MNIST in, and a clean error that keeps the
earlier output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.data.prepared import load_prepared, normalize
from pipeline.data.specs import FASHION_MNIST
from tests.helpers.files import SYSTEM_FASHION_MNIST
from tests.helpers.processes import run_module


@pytest.mark.skipif(
    not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_prepare_stage_on_real_fashion_mnist(tmp_path):
    result = run_module(
        "pipeline.stages.prepare",
        "dataset.limit=100",
        f"paths.raw={tmp_path / 'raw'}",
        f"paths.prepared={tmp_path / 'prepared'}",
        f"paths.metrics={tmp_path / 'metrics'}",
        "hydra.run.dir=" + str(tmp_path / "hydra"),
    )
    assert result.returncode == 0, result.stderr
    data = load_prepared(tmp_path / "prepared", expected_dataset="fashion_mnist")
    images = data.images("train")
    assert images.shape == (100, 28, 28, 1) and images.dtype == np.uint8  # a quarter of float32
    assert images.min() == 0 and images.max() == 255
    unit = normalize(images)
    assert unit.dtype == np.float32 and unit.min() == -1.0 and unit.max() == 1.0
    report = json.loads((tmp_path / "metrics" / "prepare.json").read_text())
    assert sum(report["per_class"]["train"].values()) == 100
    assert data.meta["source_files_sha256"]["train-images-idx3-ubyte.gz"] == next(
        f.sha256 for f in FASHION_MNIST.files if f.name == "train-images-idx3-ubyte.gz"
    )
    assert set(data.labels("test")) == set(range(10))


def test_prepare_stage_error_exits_cleanly_and_keeps_output(tmp_path):
    out = tmp_path / "prepared"
    out.mkdir()
    (out / "meta.json").write_text("{}")
    result = run_module(
        "pipeline.stages.prepare",
        "dataset=mnist",
        "dataset.download=false",
        f"paths.raw={tmp_path / 'raw'}",
        f"paths.prepared={out}",
        "hydra.run.dir=" + str(tmp_path / "hydra"),
    )
    assert result.returncode == 2
    assert "error: mnist: raw file train-images-idx3-ubyte.gz not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert (out / "meta.json").read_text() == "{}"
