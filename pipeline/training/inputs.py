"""The input pipeline of training: batches in a seeded order that every iterator (a resumed
run's, each replica's) reproduces."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from pipeline.errors import PipelineError


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
    (`training.strategy`, whose input pipeline makes iterators of its own) see what one
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

    table = tf.constant(np.asarray(images, "float32"))
    classes = None if labels is None else tf.constant(np.asarray(labels, "int32"))

    def rows(index: tf.Tensor) -> Any:
        batch = tf.gather(table, index)
        return batch if classes is None else (batch, tf.gather(classes, index))

    options = tf.data.Options()
    # Several workers (training.strategy=multi_worker) each take their part of every batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return (
        tf.data.Dataset.counter()
        .flat_map(one_pass)
        .skip(skip_batches)  # before the rows are gathered: skipping costs next to nothing
        .map(rows)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )
