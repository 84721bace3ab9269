"""The training input pipeline on prepared uint8 images: held in memory or streamed from the
memory-mapped file, the same batches, with the values every other reader sees."""

from __future__ import annotations

import numpy as np

from pipeline.data.prepared import normalize
from pipeline.training import inputs


def batches(images, count: int, labels=None) -> list:
    iterator = iter(inputs.make_dataset(images, 8, seed=3, skip_batches=2, labels=labels))
    return [next(iterator) for _ in range(count)]


def test_streamed_batches_are_the_in_memory_ones(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "images.npy", rng.integers(0, 256, (40, 6, 6, 3), dtype=np.uint8))
    images = np.load(tmp_path / "images.npy", mmap_mode="r")
    labels = rng.integers(0, 4, 40).astype("int32")
    held = batches(images, 7, labels)
    monkeypatch.setattr(inputs, "IN_MEMORY_BYTES", 0)
    streamed = batches(images, 7, labels)
    assert "read from the prepared file as each batch needs them" in capsys.readouterr().out
    for (a, la), (b, lb) in zip(held, streamed, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(la.numpy(), lb.numpy())
    first = held[0][0].numpy()
    assert first.dtype == np.float32 and first.min() >= -1.0 and first.max() <= 1.0
    # the rows are the prepared images through the one table
    rows = [i for i in range(40) if any((normalize(images[i]) == x).all() for x in first)]
    assert len(rows) == 8


def test_float_images_are_taken_as_they_are():
    images = np.random.default_rng(1).uniform(-1, 1, (16, 4, 4, 1)).astype("float32")
    [batch] = batches(images, 1)
    assert {tuple(row.ravel()) for row in batch.numpy()} <= {tuple(r.ravel()) for r in images}
