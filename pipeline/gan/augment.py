"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): the same random transforms are
applied to the real and the generated images the discriminator sees, in both networks' steps,
and gradients flow through them to the generator. Chosen by `augment.diffaugment`, a list of
names (`augment.diffaugment=[color,translation,cutout]`), applied in that order; `flip` (mirror
half the images) is there for adaptive augmentation (`pipeline.gan.ada`), which applies the
same functions with a probability it adapts.

Each augmentation is one function with one signature,

    augmentation(images, seed) -> images

on an NHWC batch in [-1, 1]; ``seed`` is an int64 pair for TensorFlow's stateless random ops
from the run's allocator (`pipeline.gan.streams`), a pure function of the step, so a run resumed
from a checkpoint draws what an uninterrupted one would; a transform that needs several draws
folds an index into it (``sub_seed``). A new one is a function registered here with ``@AUGMENTATIONS.register(name)``.
The transforms follow the authors' reference code (github.com/mit-han-lab/data-efficient-gans).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pipeline.plugins import Catalog

Tensor = Any
Augmentation = Callable[[Tensor, Tensor], Tensor]
AUGMENTATIONS: Catalog[Augmentation] = Catalog("augmentation", "augment.diffaugment")

TRANSLATION_RATIO = 0.125  # shift by up to 1/8 of the image size, zeros filling in
CUTOUT_RATIO = 0.5  # erase one square of half the image size


def augment(images: Tensor, names: Sequence[str], seed: Tensor) -> Tensor:
    """Apply the named augmentations in order, each with its own stream of ``seed``."""
    for i, name in enumerate(names):
        images = AUGMENTATIONS.get(name)(images, sub_seed(seed, i + 1))
    return images


def sub_seed(seed: Tensor, index: int) -> Tensor:
    """An independent seed derived from ``seed`` and ``index`` (a hash, not an offset, so that
    it cannot land on a seed the allocator hands another draw)."""
    import tensorflow as tf

    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), index)


def _uniform(shape: Any, seed: Tensor, offset: int, dtype: Any) -> Tensor:
    import tensorflow as tf

    return tf.random.stateless_uniform(shape, seed=sub_seed(seed, offset), dtype=dtype)


@AUGMENTATIONS.register("color")
def color(images: Tensor, seed: Tensor) -> Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5), per image."""
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    shape = tf.stack([tf.shape(x)[0], 1, 1, 1])
    x = x + (_uniform(shape, seed, 1, x.dtype) - 0.5)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * (_uniform(shape, seed, 2, x.dtype) * 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (_uniform(shape, seed, 3, x.dtype) + 0.5) + mean


@AUGMENTATIONS.register("flip")
def flip(images: Tensor, seed: Tensor) -> Tensor:
    """Mirror each image left to right with probability 1/2 (ADA's x-flip)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    mirrored = tf.random.stateless_uniform([tf.shape(x)[0], 1, 1, 1], sub_seed(seed, 0)) < 0.5
    return tf.where(mirrored, tf.reverse(x, axis=[2]), x)


def _shifted(x: Tensor, shift: Tensor, axis: int, pad: int) -> Tensor:
    """Each image of ``x`` moved by its own ``shift`` pixels along ``axis`` (1: rows, 2: columns),
    with zeros coming in from the edge."""
    import tensorflow as tf

    size = tf.shape(x)[axis]
    paddings = [[0, 0]] * 4
    paddings[axis] = [pad, pad]
    padded = tf.pad(x, paddings)
    index = tf.range(size)[tf.newaxis, :] + pad - shift[:, tf.newaxis]
    return tf.gather(padded, index, axis=axis, batch_dims=1)


def _batch_and_sizes(images: Tensor, ratio: float) -> tuple[Tensor, Tensor, tuple[int, int]]:
    """The batch as a tensor, its size, and ``ratio`` of its height and width in pixels."""
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    height, width = int(x.shape[1]), int(x.shape[2])
    return x, tf.shape(x)[0], (int(height * ratio + 0.5), int(width * ratio + 0.5))


@AUGMENTATIONS.register("translation")
def translation(images: Tensor, seed: Tensor) -> Tensor:
    """Shift each image by up to 1/8 of its size in each direction, zero-padded."""
    import tensorflow as tf

    x, batch, (pad_y, pad_x) = _batch_and_sizes(images, TRANSLATION_RATIO)
    shift_y = tf.random.stateless_uniform(
        [batch], sub_seed(seed, 0), -pad_y, pad_y + 1, dtype=tf.int32
    )
    shift_x = tf.random.stateless_uniform(
        [batch], sub_seed(seed, 1), -pad_x, pad_x + 1, dtype=tf.int32
    )
    return _shifted(_shifted(x, shift_y, 1, pad_y), shift_x, 2, pad_x)


@AUGMENTATIONS.register("cutout")
def cutout(images: Tensor, seed: Tensor) -> Tensor:
    """Zero one square of half the image size per image, at a random place (it may overhang)."""
    import tensorflow as tf

    x, batch, (cut_y, cut_x) = _batch_and_sizes(images, CUTOUT_RATIO)
    height, width = int(x.shape[1]), int(x.shape[2])
    top = (
        tf.random.stateless_uniform(
            [batch, 1, 1], sub_seed(seed, 0), 0, height + (1 - cut_y % 2), dtype=tf.int32
        )
        - cut_y // 2
    )
    left = tf.random.stateless_uniform(
        [batch, 1, 1], sub_seed(seed, 1), 0, width + (1 - cut_x % 2),
        dtype=tf.int32,
    ) - cut_x // 2  # fmt: skip
    rows = tf.range(height)[tf.newaxis, :, tf.newaxis]
    cols = tf.range(width)[tf.newaxis, tf.newaxis, :]
    inside = (rows >= top) & (rows < top + cut_y) & (cols >= left) & (cols < left + cut_x)
    return x * tf.cast(~inside, x.dtype)[..., tf.newaxis]
