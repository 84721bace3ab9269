"""Adaptive discriminator augmentation (pipeline.gan.ada): p moves by the over-fitting signal
at the rate the settings give, in closed form, and augments each image with probability p."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pipeline.gan.ada import COUNT, LAST_RT, SIGNS, Ada, P
from tests.helpers.configs import compose_config, validate_all

SEED = tf.constant([3, 4], tf.int64)


def run(ada: Ada, logits_per_step: list[np.ndarray], state=None) -> np.ndarray:
    state = tf.zeros(4) if state is None else tf.constant(state, tf.float32)
    for step, logits in enumerate(logits_per_step):
        state = ada.update(state, tf.constant(logits, tf.float32), tf.constant(step, tf.int64))
    return state.numpy()


def test_p_rises_while_d_overfits_and_moves_every_interval():
    """r_t = 1 > 0.6: after 4 steps of 8 images p is 32 / speed; nothing moves before."""
    ada = Ada(target=0.6, speed_images=320, augmentations=("flip",))
    sure = np.ones(8)
    state = run(ada, [sure] * 3)
    assert state[P] == 0 and state[SIGNS] == 24 and state[COUNT] == 24
    state = run(ada, [sure] * 4)
    assert state[P] == pytest.approx(0.1) and state[LAST_RT] == 1.0
    assert state[SIGNS] == 0 and state[COUNT] == 0  # a new window
    assert run(ada, [sure] * 40)[P] == pytest.approx(1.0)  # 320 images: 0 to 1, then clipped


def test_p_falls_while_d_is_unsure_and_stays_in_0_1():
    """Half the reals called fake (r_t = 0 < 0.6): p falls by 32 / speed, never below 0."""
    ada = Ada(target=0.6, speed_images=320, augmentations=("flip",))
    mixed = np.array([1.0, -1.0] * 4)
    state = run(ada, [mixed] * 4, state=[0.5, 0, 0, 0])
    assert state[P] == pytest.approx(0.4) and state[LAST_RT] == 0.0
    assert run(ada, [mixed] * 40, state=[0.5, 0, 0, 0])[P] == 0.0


def test_augments_each_image_with_probability_p():
    images = tf.ones((2000, 8, 8, 1))
    ada = Ada(target=0.6, speed_images=1, augmentations=("cutout",))

    def erased(p: float) -> float:
        out = ada.augment(images, tf.constant(p), SEED).numpy()
        return float((out.reshape(2000, -1).min(axis=1) == 0).mean())

    assert erased(0.0) == 0.0 and erased(1.0) == 1.0
    assert erased(0.3) == pytest.approx(0.3, abs=0.04)
    same = ada.augment(images, tf.constant(0.5), SEED).numpy()
    np.testing.assert_array_equal(same, ada.augment(images, tf.constant(0.5), SEED).numpy())


def test_settings_come_from_the_augment_section_and_0_is_off():
    cfg = validate_all(compose_config([]))
    assert Ada.from_settings(cfg.augment) is None
    cfg = validate_all(compose_config(["augment.ada_target=0.6"]))
    ada = Ada.from_settings(cfg.augment)
    assert ada == Ada(0.6, 500_000, ("flip", "translation", "color", "cutout"))


def test_flip_mirrors_about_half_the_images():
    from pipeline.gan.augment import flip

    images = tf.random.stateless_uniform((1000, 4, 4, 1), [1, 2])
    out = flip(images, SEED).numpy()
    mirrored = np.all(out == images.numpy()[:, :, ::-1], axis=(1, 2, 3))
    kept = np.all(out == images.numpy(), axis=(1, 2, 3))
    assert np.all(mirrored | kept) and mirrored.mean() == pytest.approx(0.5, abs=0.05)
