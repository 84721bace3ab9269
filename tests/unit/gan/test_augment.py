"""DiffAugment: every transform keeps shapes, is differentiable, is a pure function of its seed,
and changes the images the way it says."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pipeline.errors import PipelineError
from pipeline.gan.augment import AUGMENTATIONS, augment

IMAGES = tf.constant(np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 3)).astype("float32"))
SEED = tf.constant([3, 4], tf.int64)


@pytest.mark.parametrize("name", AUGMENTATIONS.names())
def test_keeps_shape_and_is_differentiable(name):
    x = tf.Variable(IMAGES)
    with tf.GradientTape() as tape:
        out = augment(x, [name], SEED)
        total = tf.reduce_sum(out * out)
    assert out.shape == IMAGES.shape
    grads = tape.gradient(total, x)
    assert grads is not None and float(tf.reduce_sum(tf.abs(grads))) > 0


@pytest.mark.parametrize("name", AUGMENTATIONS.names())
def test_same_seed_same_result_other_seed_other_result(name):
    first = augment(IMAGES, [name], SEED).numpy()
    np.testing.assert_array_equal(first, augment(IMAGES, [name], SEED).numpy())
    assert not np.allclose(first, augment(IMAGES, [name], SEED + 1).numpy())


def test_translation_moves_pixels_and_pads_with_zeros():
    ones = tf.ones((64, 16, 16, 1))
    out = augment(ones, ["translation"], SEED).numpy()
    assert set(np.unique(out)) <= {0.0, 1.0}
    zero_rows = (out == 0).all(axis=(2, 3)).sum(axis=1) + (out == 0).all(axis=(1, 3)).sum(axis=1)
    assert zero_rows.max() <= 2 * 2 and zero_rows.max() > 0  # up to 1/8 of 16 px per side
    marker = np.zeros((64, 16, 16, 1), "float32")
    marker[:, 8, 8] = 1.0  # one lit pixel lands at most 2 px away, once per image
    moved = augment(tf.constant(marker), ["translation"], SEED).numpy()
    assert (moved.sum(axis=(1, 2, 3)) <= 1).all()
    rows, cols = np.nonzero(moved[..., 0].max(axis=0))
    assert (abs(rows - 8) <= 2).all() and (abs(cols - 8) <= 2).all()


def test_cutout_erases_at_most_a_quarter_of_the_image():
    out = augment(tf.ones((64, 28, 28, 1)), ["cutout"], SEED).numpy()
    erased = (out == 0).mean(axis=(1, 2, 3))
    assert (erased <= 0.25 + 1e-6).all() and erased.mean() > 0.1


def test_color_changes_values_not_layout():
    out = augment(IMAGES, ["color"], SEED).numpy()
    assert not np.allclose(out, IMAGES.numpy())
    # brightness, saturation and contrast are affine per image: correlation stays high
    for a, b in zip(out, IMAGES.numpy(), strict=True):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.5


def test_unknown_name_names_the_choices():
    with pytest.raises(PipelineError, match="color"):
        augment(IMAGES, ["colour"], SEED)
