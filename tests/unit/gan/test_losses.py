"""Losses against their closed forms, and the regularizers' defining properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from pipeline.gan.losses import LOSSES
from pipeline.gan.regularizers import DiscriminatorBatch, gp, lecam, r1

REAL = tf.constant([[2.0], [-1.0]])
FAKE = tf.constant([[0.5], [-3.0]])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_non_saturating_is_binary_cross_entropy():
    loss = LOSSES.get("non_saturating")
    d = float(loss.discriminator(REAL, FAKE))
    expected = np.mean([softplus(-2.0), softplus(1.0)]) + np.mean([softplus(0.5), softplus(-3.0)])
    assert d == pytest.approx(expected, rel=1e-5)
    g = float(loss.generator(FAKE))
    assert g == pytest.approx(np.mean([softplus(-0.5), softplus(3.0)]), rel=1e-5)


def test_label_smoothing_lowers_the_real_target():
    loss = LOSSES.get("non_saturating")
    logits = tf.constant([[10.0]])
    # A confident "real" costs more when the target is 0.9 than when it is 1.
    assert float(loss.discriminator(logits, -logits, label_smoothing=0.1)) > float(
        loss.discriminator(logits, -logits)
    )


def test_hinge():
    loss = LOSSES.get("hinge")
    d = float(loss.discriminator(REAL, FAKE))
    assert d == pytest.approx(np.mean([0.0, 2.0]) + np.mean([1.5, 0.0]))
    assert float(loss.generator(FAKE)) == pytest.approx(1.25)


def test_least_squares():
    loss = LOSSES.get("least_squares")
    d = float(loss.discriminator(REAL, FAKE))
    assert d == pytest.approx(0.5 * (np.mean([1.0, 4.0]) + np.mean([0.25, 9.0])))
    assert float(loss.generator(FAKE)) == pytest.approx(0.5 * np.mean([0.25, 16.0]))


class Linear:
    """D(x) = sum(w * x): its input gradient is w everywhere, so R1 is known in closed form."""

    def __init__(self, w: float):
        self.w = w

    def __call__(self, x, training=False):
        return tf.reduce_sum(self.w * x, axis=[1, 2, 3])[:, None]


def batch(discriminator, step: int = 0) -> DiscriminatorBatch:
    x = tf.random.uniform((4, 5, 5, 1))
    return DiscriminatorBatch(discriminator, x, x, None, None, tf.constant(step, tf.int64))


def test_r1_matches_its_closed_form():
    # ||grad||^2 = 25 pixels * 3^2; the term is gamma / 2 times that.
    assert float(r1(batch(Linear(3.0)), gamma=2.0, every=1)) == pytest.approx(225.0)


def test_lazy_r1_runs_every_k_steps_scaled_by_k():
    d = Linear(1.0)
    assert float(r1(batch(d, step=4), gamma=2.0, every=4)) == pytest.approx(4 * 25.0)
    assert float(r1(batch(d, step=5), gamma=2.0, every=4)) == 0.0


def test_r1_has_gradients_for_the_discriminator():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        term = r1(batch(lambda x, training=False: Linear(1.0)(x) * w), gamma=1.0, every=1)
    assert float(tape.gradient(term, w)) == pytest.approx(2 * 25.0 * 2.0 / 2, rel=1e-5)


def test_wasserstein():
    loss = LOSSES.get("wasserstein")
    assert float(loss.discriminator(REAL, FAKE)) == pytest.approx(-1.25 - 0.5)
    assert float(loss.generator(FAKE)) == pytest.approx(1.25)


def test_gradient_penalty_is_zero_for_a_1_lipschitz_critic():
    # D(x) = sum(w * x) with ||w|| = 1 over 25 pixels: w = 1/5 everywhere.
    assert float(gp(batch(Linear(0.2)), weight=10.0, target=1.0)) == pytest.approx(0.0, abs=1e-6)
    # With w = 1 the gradient norm is 5 everywhere: 10 * (5 - 1)^2.
    assert float(gp(batch(Linear(1.0)), weight=10.0, target=1.0)) == pytest.approx(160.0)


def test_gradient_penalty_draws_the_same_interpolates_at_the_same_step():
    """Non-linear critic: the penalty depends on where x_hat lies, which depends on the step."""
    w = tf.constant(np.random.default_rng(0).standard_normal((1, 5, 5, 1)), tf.float32)

    def critic(x, training=False):
        return tf.reduce_sum(tf.square(x) * w, axis=[1, 2, 3])[:, None]

    real = tf.random.stateless_uniform((4, 5, 5, 1), seed=[1, 2])
    fake = -real

    def at(step):
        b = DiscriminatorBatch(critic, real, fake, None, None, tf.constant(step, tf.int64))
        return float(gp(b, weight=1.0, target=1.0))

    assert at(3) == at(3) and at(3) != at(4)


def test_lecam_matches_its_closed_form():
    """weight * (E relu(D(x) - ema_fake)^2 + E relu(ema_real - D(G(z)))^2), from the anchors."""
    anchored = DiscriminatorBatch(
        None, None, None, REAL, FAKE, tf.constant(0, tf.int64),
        real_logit_ema=tf.constant(1.0), fake_logit_ema=tf.constant(0.0),
    )  # fmt: skip
    # reals 2, -1 against 0: (4 + 0) / 2; fakes 0.5, -3 under 1: (0.25 + 16) / 2
    assert float(lecam(anchored, weight=0.5)) == pytest.approx(0.5 * (2.0 + 8.125))


def test_lecam_is_zero_when_outputs_sit_on_the_other_side_of_the_anchors():
    anchored = DiscriminatorBatch(
        None, None, None, REAL, FAKE, tf.constant(0, tf.int64),
        real_logit_ema=tf.constant(-5.0), fake_logit_ema=tf.constant(5.0),
    )  # fmt: skip
    assert float(lecam(anchored, weight=1.0)) == 0.0
