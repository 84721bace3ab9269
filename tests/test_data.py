"""Loaders and the prepare stage, on small files in the official formats and on real Fashion-MNIST."""

from __future__ import annotations

import gzip
import hashlib
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.data import formats
from pipeline.data.prepared import load_prepared, load_raw, normalize, write_prepared
from pipeline.data.sources import FASHION_MNIST, DatasetSpec, RawFile, locate_raw_files
from pipeline.errors import PipelineError
from tests.conftest import (
    SYSTEM_FASHION_MNIST,
    run_module,
    write_cifar_like,
    write_idx,
    write_mnist_like,
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spec_for(folder: Path, base_url: str = "http://127.0.0.1:9/") -> DatasetSpec:
    """A spec whose checksums are those of the files the test wrote."""
    files = tuple(RawFile(p.name, sha256(p)) for p in sorted(folder.iterdir()))
    return DatasetSpec("testset", files, base_url, tuple(str(i) for i in range(10)))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- IDX -------------------------------------------------------------------------------------


def test_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(formats.read_idx(write_idx(tmp_path / "a.gz", array)), array)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x12\x34\x08\x03" + b"\x00" * 12, "corrupt IDX header"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x03", "corrupt IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", r"header says shape \(5,\)"),
    ],
    ids=["bad-magic", "truncated-header", "short-data"],
)
def test_corrupt_idx_is_named(tmp_path, payload, message):
    path = tmp_path / "bad-idx1-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(payload)
    with pytest.raises(PipelineError, match=message) as err:
        formats.read_idx(path)
    assert str(path) in str(err.value) and "fix:" in str(err.value)


def test_not_gzip_is_named(tmp_path):
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(PipelineError, match="cannot read IDX file"):
        formats.read_idx(path)


# --- sources: local copies, checksums, downloads ---------------------------------------------


def test_load_raw_from_local_idx_files(tmp_path):
    folder = write_mnist_like(tmp_path / "raw", n_train=40, n_test=12)
    raw = load_raw("testset", folder, download=False, spec=spec_for(folder))
    assert raw.train[0].shape == (40, 28, 28, 1) and raw.test[0].shape == (12, 28, 28, 1)
    assert raw.train[0].dtype == np.uint8 and len(raw.train[1]) == 40


def test_local_checksum_mismatch_is_refused(tmp_path):
    folder = write_mnist_like(tmp_path / "raw")
    spec = spec_for(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(12))  # a different file
    with pytest.raises(PipelineError, match="checksum mismatch.*t10k-labels"):
        load_raw("testset", folder, download=False, spec=spec)


def test_missing_file_without_download_names_the_fix(tmp_path):
    folder = write_mnist_like(tmp_path / "raw")
    spec = spec_for(folder)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(PipelineError, match="not found.*download is false") as err:
        locate_raw_files(spec, folder, download=False)
    assert f"copy the official files into {folder}" in str(err.value)


def test_missing_file_with_no_network_names_the_fix(tmp_path):
    folder = write_mnist_like(tmp_path / "src")
    spec = spec_for(folder, base_url=f"http://127.0.0.1:{closed_port()}/")
    with pytest.raises(PipelineError, match="downloading http://127.0.0.1.* failed") as err:
        locate_raw_files(spec, tmp_path / "empty")
    assert "fix:" in str(err.value)
    assert not (tmp_path / "empty" / "train-images-idx3-ubyte.gz").exists()


def test_download_from_local_server(http_server, tmp_path):
    www, url = http_server
    write_mnist_like(www)
    spec = spec_for(www, base_url=url)
    dest = tmp_path / "downloaded"
    files = locate_raw_files(spec, dest)
    assert {p.parent for p in files.values()} == {dest}
    assert all(sha256(dest / f.name) == f.sha256 for f in spec.files)


def test_download_with_wrong_checksum_keeps_nothing(http_server, tmp_path):
    www, url = http_server
    write_mnist_like(www)
    good = spec_for(www, base_url=url)
    tampered = DatasetSpec(
        "testset",
        (RawFile(good.files[0].name, "0" * 64),),
        url,
        good.class_names,
    )
    dest = tmp_path / "downloaded"
    with pytest.raises(PipelineError, match="checksum mismatch for download"):
        locate_raw_files(tampered, dest)
    assert not dest.exists() or not any(dest.iterdir()), "a bad download must not be kept"


def test_mirror_overrides_base_url(http_server, tmp_path):
    www, url = http_server
    write_mnist_like(www)
    spec = spec_for(www, base_url=f"http://127.0.0.1:{closed_port()}/")
    files = locate_raw_files(spec, tmp_path / "d", mirror=url)
    assert len(files) == 4


# --- CIFAR-10 and image folders --------------------------------------------------------------


def test_cifar_tarball(tmp_path):
    path = write_cifar_like(tmp_path / "raw" / "cifar-10-python.tar.gz", per_batch=6)
    spec = DatasetSpec("c", (RawFile(path.name, sha256(path)),), "http://127.0.0.1:9/", ())
    raw = load_raw("c", path.parent, download=False, spec=spec)
    assert raw.train[0].shape == (30, 32, 32, 3) and raw.test[0].shape == (6, 32, 32, 3)


def test_cifar_channel_order(tmp_path):
    """The batches hold planes R, G, B of 1024 bytes each; NHWC must put them last."""
    path = write_cifar_like(tmp_path / "c.tar.gz", per_batch=2)
    splits = formats.read_cifar10_tarball(path)
    import pickle
    import tarfile

    with tarfile.open(path) as tar:
        batch = pickle.load(tar.extractfile("cifar-10-batches-py/test_batch"), encoding="bytes")
    red_plane = batch[b"data"][0][:1024].reshape(32, 32)
    assert np.array_equal(splits["test"][0][0, :, :, 0], red_plane)


def test_image_folder_classes_and_resize(tmp_path):
    for cls, color in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (40, 30), color).save(tmp_path / "imgs" / cls / f"{i}.png")
    raw = load_raw("image_folder", tmp_path / "imgs", image_size=16, channels=3, test_fraction=0.2)
    assert raw.train[0].shape == (8, 16, 16, 3) and raw.test[0].shape == (2, 16, 16, 3)
    assert raw.class_names == ["cats", "dogs"]
    images = np.concatenate([raw.train[0], raw.test[0]])
    labels = np.concatenate([raw.train[1], raw.test[1]])
    assert (images[labels == 0][..., 0] == 255).all() and (images[labels == 1][..., 2] == 255).all()


def test_empty_image_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PipelineError, match="holds no PNG or JPEG"):
        load_raw("image_folder", tmp_path / "empty")


def test_unreadable_image_is_named(tmp_path):
    (tmp_path / "imgs").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "imgs" / "ok.png")
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(PipelineError, match="cannot read image .*broken.jpg"):
        load_raw("image_folder", tmp_path / "imgs")


# --- prepared output -------------------------------------------------------------------------


def test_normalize_range():
    x = normalize(np.array([0, 255, 128], dtype=np.uint8))
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0


def test_write_prepared_replaces_only_when_complete(tmp_path, monkeypatch):
    folder = write_mnist_like(tmp_path / "raw")
    raw = load_raw("testset", folder, download=False, spec=spec_for(folder))
    out = tmp_path / "prepared"
    meta = write_prepared(raw, out, limit=10)
    assert meta["counts"] == {"train": 10, "test": 10}
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(OSError):
        write_prepared(raw, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prepared", "raw"], "no temp dirs left"


@pytest.mark.skipif(
    not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_prepare_stage_on_real_fashion_mnist(tmp_path):
    result = run_module(
        "pipeline.prepare",
        "dataset.limit=100",
        f"paths.raw={tmp_path / 'raw'}",
        f"paths.prepared={tmp_path / 'prepared'}",
        "hydra.run.dir=" + str(tmp_path / "hydra"),
    )
    assert result.returncode == 0, result.stderr
    data = load_prepared(tmp_path / "prepared", expected_dataset="fashion_mnist")
    images = data.images("train")
    assert images.shape == (100, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.min() < -0.99
    assert data.meta["source_files_sha256"]["train-images-idx3-ubyte.gz"] == next(
        f.sha256 for f in FASHION_MNIST.files if f.name == "train-images-idx3-ubyte.gz"
    )
    assert set(data.labels("test")) == set(range(10))


def test_prepare_stage_error_exits_cleanly_and_keeps_output(tmp_path):
    out = tmp_path / "prepared"
    out.mkdir()
    (out / "meta.json").write_text("{}")
    result = run_module(
        "pipeline.prepare",
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
