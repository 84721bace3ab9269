"""The input pipeline of training: batches in a seeded order that every iterator (a resumed
run's, each replica's) reproduces, mapped from the prepared uint8 images to [-1, 1] as they are
used (a large set is read from its memory-mapped file, never loaded whole)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from pipeline.data.prepared import UNIT_RANGE
from pipeline.errors import PipelineError

# Prepared images up to this size are held in memory as one constant; larger ones are read from
# their memory-mapped file as each batch needs them (the same values either way). Holding costs
# the set twice over while the constant is made (the file's pages and the copy); streaming 20,000
# 128x128 images ran at 0.89x the images/s held, far above what training takes
# (benchmarks/data_scale.py).
IN_MEMORY_BYTES = 256 << 20


def make_dataset(
    images: np.ndarray,
    batch_size: int,
    seed: int,
    skip_batches: int = 0,
    labels: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Batches of ``batch_size`` rows (of (images, labels) when ``labels`` are given), every
    batch full, repeated and prefetched; each pass over the data in its own order.

    The order of pass ``k`` is a pure function of (``seed``, ``k``), not of a shuffle buffer's
    state, so every iterator of the dataset yields the same batches: a resumed run (which
    skips the ``skip_batches`` already trained on) and a run split across replicas
    (`compute.strategy`, whose input pipeline makes iterators of its own) see what one
    uninterrupted run on one device sees."""
    count = len(images)
    if count < batch_size:
        raise PipelineError(
            f"the training set has {count} images, fewer than one batch ({batch_size})",
            "lower training.batch_size or raise dataset.limit",
        )

    def one_pass(number: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count), seed=tf.stack([tf.constant(seed, tf.int64), number])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)

    pixels = row_reader(images)
    classes = None if labels is None else tf.constant(np.asarray(labels, "int32"))

    def rows(index: tf.Tensor) -> Any:
        batch = pixels(index)
        return batch if classes is None else (batch, tf.gather(classes, index))

    options = tf.data.Options()
    # Several workers (compute.strategy=multi_worker) each take their part of every batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return (
        tf.data.Dataset.counter()
        .flat_map(one_pass)
        .skip(skip_batches)  # before the rows are gathered: skipping costs next to nothing
        .map(rows)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )


def row_reader(images: np.ndarray) -> Callable[[tf.Tensor], tf.Tensor]:
    """index batch -> float32 images in [-1, 1]. Prepared uint8 images go through the table
    every other reader uses (``UNIT_RANGE``), so training sees the values evaluation sees; float
    images (already in [-1, 1]: tests, notebooks) are taken as they are."""
    if images.dtype != np.uint8:
        table = tf.constant(np.asarray(images, "float32"))
        return lambda index: tf.gather(table, index)
    unit = tf.constant(UNIT_RANGE)
    if images.nbytes <= IN_MEMORY_BYTES:
        stored = tf.constant(np.asarray(images))
        return lambda index: tf.gather(unit, tf.cast(tf.gather(stored, index), tf.int32))
    print(
        f"input: {images.nbytes / 1e9:.1f} GB of images, more than {IN_MEMORY_BYTES / 1e9:.1f} GB: "
        "read from the prepared file as each batch needs them"
    )
    row_shape = tuple(images.shape[1:])

    def read(index: np.ndarray) -> np.ndarray:
        return np.asarray(images[np.asarray(index)])

    def gather(index: tf.Tensor) -> tf.Tensor:
        batch = tf.numpy_function(read, [index], tf.uint8, stateful=False)
        batch.set_shape((None, *row_shape))
        return tf.gather(unit, tf.cast(batch, tf.int32))

    return gather
