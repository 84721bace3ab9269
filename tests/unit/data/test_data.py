"""Readers, sources and the prepared format, on small files in the official formats."""

from __future__ import annotations

import gzip
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.data import formats
from pipeline.data.prepared import RawDataset, normalize
from pipeline.data.readers import (
    load_raw,
    read_cifar10_release,
    read_idx_release,
    read_image_folder,
    reader_of,
)
from pipeline.data.settings import ImageFolderConfig, ReleaseConfig
from pipeline.data.sources import locate_raw_files
from pipeline.data.specs import DATASETS, DatasetSpec, RawFile
from pipeline.data.writer import write_prepared
from pipeline.errors import PipelineError
from tests.helpers.files import sha256, write_cifar_like, write_idx, write_mnist_like


def spec_for(folder: Path, base_url: str = "http://127.0.0.1:9/", reader=read_idx_release):
    """A spec whose checksums are those of the files the test wrote."""
    files = tuple(RawFile(p.name, sha256(p)) for p in sorted(folder.iterdir()))
    return DatasetSpec("testset", reader, files, base_url, tuple(str(i) for i in range(10)))


def dataset_cfg(reader=read_idx_release, **overrides):
    """The typed settings ``reader`` takes (its source's schema), as conf/ would give them."""
    common = {"name": "testset", "raw_dir": None, "limit": None, "title": None}
    if reader is read_image_folder:
        return ImageFolderConfig(**{**common, "image_size": 16, "channels": 3,
                                    "resize": "center_crop", "pad_color": [0, 0, 0],
                                    "on_bad_file": "fail", "test_fraction": 0.2, "split_seed": 0,
                                    **overrides})  # fmt: skip
    return ReleaseConfig(**{**common, "mirror": None, "download": False, **overrides})


def read(spec: DatasetSpec, folder: Path, seed: int = 0, **overrides) -> RawDataset:
    reader = reader_of(spec)
    if reader is read_image_folder:
        overrides["split_seed"] = seed
    return reader(spec, dataset_cfg(reader, **overrides), folder)


def decoded(split) -> np.ndarray:
    """An image folder's split decoded (as prepare writes it), as one array."""
    return np.stack([pixels for pixels, _ in split.rows({})])


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
@pytest.mark.faults
def test_corrupt_idx_is_named(tmp_path, payload, message):
    path = tmp_path / "bad-idx1-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(payload)
    with pytest.raises(PipelineError, match=message) as err:
        formats.read_idx(path)
    assert str(path) in str(err.value) and "fix:" in str(err.value)


@pytest.mark.faults
def test_not_gzip_is_named(tmp_path):
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(PipelineError, match="cannot read IDX file"):
        formats.read_idx(path)


# --- sources: local copies, checksums, downloads ---------------------------------------------


def test_load_raw_from_local_idx_files(tmp_path):
    folder = write_mnist_like(tmp_path / "raw", n_train=40, n_test=12)
    raw = read(spec_for(folder), folder)
    assert raw.train[0].shape == (40, 28, 28, 1) and raw.test[0].shape == (12, 28, 28, 1)
    assert raw.train[0].dtype == np.uint8 and len(raw.train[1]) == 40


@pytest.mark.faults
def test_local_checksum_mismatch_is_refused(tmp_path):
    folder = write_mnist_like(tmp_path / "raw")
    spec = spec_for(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(12))  # a different file
    with pytest.raises(PipelineError, match="checksum mismatch.*t10k-labels"):
        read(spec, folder)


@pytest.mark.faults
def test_missing_file_without_download_names_the_fix(tmp_path):
    folder = write_mnist_like(tmp_path / "raw")
    spec = spec_for(folder)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(PipelineError, match="not found.*download is false") as err:
        locate_raw_files(spec, folder, download=False)
    assert f"copy the official files into {folder}" in str(err.value)


@pytest.mark.faults
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


@pytest.mark.faults
def test_download_with_wrong_checksum_keeps_nothing(http_server, tmp_path):
    www, url = http_server
    write_mnist_like(www)
    good = spec_for(www, base_url=url)
    tampered = DatasetSpec(
        "testset", read_idx_release, (RawFile(good.files[0].name, "0" * 64),), url, good.class_names
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
    spec = DatasetSpec(
        "c", read_cifar10_release, (RawFile(path.name, sha256(path)),), "http://127.0.0.1:9/"
    )
    raw = read(spec, path.parent)
    assert raw.train[0].shape == (30, 32, 32, 3) and raw.test[0].shape == (6, 32, 32, 3)


@pytest.mark.faults
def test_a_cifar_tarball_that_is_not_the_official_one_is_refused_unread(tmp_path):
    """Issue 9, #4/#7: the batches are pickles, so the checksum is checked before any is read."""
    official = write_cifar_like(tmp_path / "official" / "cifar-10-python.tar.gz")
    other = write_cifar_like(tmp_path / "raw" / "cifar-10-python.tar.gz", seed=1)
    spec = DatasetSpec(
        "c", read_cifar10_release, (RawFile(other.name, sha256(official)),), "http://127.0.0.1:9/"
    )
    with pytest.raises(PipelineError, match="checksum mismatch.*cifar-10-python.tar.gz"):
        read(spec, other.parent)


@pytest.mark.faults
def test_a_tarball_member_that_escapes_the_folder_is_never_written(tmp_path):
    """Issue 9, #4/#7: members are read in memory, by name, never extracted to disk."""
    import io
    import tarfile

    path = tmp_path / "inside" / "deeper" / "cifar-10-python.tar.gz"
    path.parent.mkdir(parents=True)
    with tarfile.open(path, "w:gz") as tar:
        for name in ("../../escaped", "/tmp/absolute-escape", "cifar-10-batches-py/../../x"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(PipelineError, match="lacks data_batch_1"):
        formats.read_cifar10_tarball(path)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "inside" / "x").exists()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


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
        for i in range(5):  # distinct files (exact duplicates are kept once)
            shade = tuple(c or 10 * i for c in color)
            Image.new("RGB", (40, 30), shade).save(tmp_path / "imgs" / cls / f"{i}.png")
    raw = read(DATASETS.get("image_folder"), tmp_path / "imgs")
    assert raw.train[0].shape == (8, 16, 16, 3) and raw.test[0].shape == (2, 16, 16, 3)
    assert raw.class_names == ["cats", "dogs"]
    images = np.concatenate([decoded(raw.train[0]), decoded(raw.test[0])])
    labels = np.concatenate([raw.train[1], raw.test[1]])
    assert (images[labels == 0][..., 0] == 255).all() and (images[labels == 1][..., 2] == 255).all()


@pytest.mark.faults
def test_empty_image_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PipelineError, match="holds no images"):
        read(DATASETS.get("image_folder"), tmp_path / "empty")


@pytest.mark.faults
def test_unreadable_image_is_named(tmp_path):
    (tmp_path / "imgs").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "imgs" / "ok.png")
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"not a jpeg")
    raw = read(DATASETS.get("image_folder"), tmp_path / "imgs")  # found now, decoded when written
    with pytest.raises(PipelineError, match="cannot be read as images: broken.jpg"):
        write_prepared(raw, tmp_path / "prepared")
    assert not (tmp_path / "prepared").exists(), "nothing half-written"


# --- prepared output -------------------------------------------------------------------------


def test_normalize_range():
    x = normalize(np.array([0, 255, 128], dtype=np.uint8))
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0


def test_normalize_gives_the_very_values_of_float_arithmetic():
    """The table every reader uses equals x / 127.5 - 1 in float32, bit for bit: prepared data
    of the old float32 format and of the uint8 one train the same weights."""
    pixels = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(normalize(pixels), pixels.astype(np.float32) / 127.5 - 1.0)
    generated = np.array([0.25, -1.0], np.float32)
    assert normalize(generated).dtype == np.float32 and (normalize(generated) == generated).all()


@pytest.mark.faults
def test_write_prepared_replaces_only_when_complete(tmp_path, monkeypatch):
    folder = write_mnist_like(tmp_path / "raw")
    raw = read(spec_for(folder), folder)
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


def test_load_raw_dispatches_to_the_specs_reader(tmp_path):
    """A dataset is a spec naming its reader: registering one makes load_raw read it."""
    folder = write_mnist_like(tmp_path / "raw" / "testset")
    with DATASETS.temporarily("testset", spec_for(folder)):
        raw = load_raw(dataset_cfg(), tmp_path / "raw")
    assert raw.name == "testset" and raw.train[0].shape == (40, 28, 28, 1)
    assert "testset" not in DATASETS


def test_dataset_names_derive_from_the_specs():
    from tests.helpers.configs import options

    assert DATASETS.names() == options("dataset")
    for name in DATASETS.names():
        assert DATASETS.get(name).name == name


def test_image_folder_split_is_seeded(tmp_path):
    for i in range(10):
        Image.new("L", (8, 8), i * 20).save(tmp_path / f"{i}.png")
    spec = DATASETS.get("image_folder")
    first, again = read(spec, tmp_path, seed=1), read(spec, tmp_path, seed=1)
    other = read(spec, tmp_path, seed=2)
    assert np.array_equal(decoded(first.test[0]), decoded(again.test[0]))
    assert not np.array_equal(decoded(first.test[0]), decoded(other.test[0]))
