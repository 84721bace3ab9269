"""Losses against their closed forms, and the terms' defining properties, through the step
contract (`pipeline.gan.batch.Batch`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from pipeline.gan.batch import GENERATOR, Batch
from pipeline.gan.losses import LOSSES
from pipeline.gan.regularizers import gp, lecam, lecam_anchors, r1
from pipeline.gan.streams import Streams

REAL = tf.constant([[2.0], [-1.0]])
FAKE = tf.constant([[0.5], [-3.0]])
LOGITS = Batch(real_logits=REAL, fake_logits=FAKE)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_non_saturating_is_binary_cross_entropy():
    loss = LOSSES.get("non_saturating")
    d = float(loss.discriminator(LOGITS))
    expected = np.mean([softplus(-2.0), softplus(1.0)]) + np.mean([softplus(0.5), softplus(-3.0)])
    assert d == pytest.approx(expected, rel=1e-5)
    g = float(loss.generator(LOGITS))
    assert g == pytest.approx(np.mean([softplus(-0.5), softplus(3.0)]), rel=1e-5)


def test_label_smoothing_lowers_the_real_target():
    loss = LOSSES.get("non_saturating")
    logits = tf.constant([[10.0]])
    # A confident "real" costs more when the target is 0.9 than when it is 1.
    confident = Batch(real_logits=logits, fake_logits=-logits)
    assert float(loss.discriminator(confident, label_smoothing=0.1)) > float(
        loss.discriminator(confident)
    )


def test_hinge():
    loss = LOSSES.get("hinge")
    d = float(loss.discriminator(LOGITS))
    assert d == pytest.approx(np.mean([0.0, 2.0]) + np.mean([1.5, 0.0]))
    assert float(loss.generator(LOGITS)) == pytest.approx(1.25)


def test_least_squares():
    loss = LOSSES.get("least_squares")
    d = float(loss.discriminator(LOGITS))
    assert d == pytest.approx(0.5 * (np.mean([1.0, 4.0]) + np.mean([0.25, 9.0])))
    assert float(loss.generator(LOGITS)) == pytest.approx(0.5 * np.mean([0.25, 16.0]))


class Linear:
    """D(x) = sum(w * x): its input gradient is w everywhere, so R1 is known in closed form."""

    def __init__(self, w: float):
        self.w = w

    def __call__(self, x, training=False):
        return tf.reduce_sum(self.w * x, axis=[1, 2, 3])[:, None]


def seeds(step: int):
    return lambda purpose: Streams(0, 2).seed_for(purpose, tf.constant(step, tf.int64), 0)


def batch(discriminator, step: int = 0) -> Batch:
    x = tf.random.uniform((4, 5, 5, 1))
    return Batch(real_images=x, fake_images=x, discriminator=discriminator,
                 step=tf.constant(step, tf.int64), seed=seeds(step))  # fmt: skip


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
    assert float(loss.discriminator(LOGITS)) == pytest.approx(-1.25 - 0.5)
    assert float(loss.generator(LOGITS)) == pytest.approx(1.25)


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
        b = Batch(real_images=real, fake_images=fake, discriminator=critic, seed=seeds(step))
        return float(gp(b, weight=1.0, target=1.0))

    assert at(3) == at(3) and at(3) != at(4)


def test_lecam_matches_its_closed_form():
    """weight * (E relu(D(x) - ema_fake)^2 + E relu(ema_real - D(G(z)))^2), from the anchors."""
    anchors = tf.constant([1.0, 0.0])  # (real, fake) moving averages
    # reals 2, -1 against 0: (4 + 0) / 2; fakes 0.5, -3 under 1: (0.25 + 16) / 2
    assert float(lecam(LOGITS, anchors, weight=0.5)) == pytest.approx(0.5 * (2.0 + 8.125))


def test_lecam_is_zero_when_outputs_sit_on_the_other_side_of_the_anchors():
    assert float(lecam(LOGITS, tf.constant([-5.0, 5.0]), weight=1.0)) == 0.0


def test_lecam_anchors_are_moving_averages_of_the_mean_logits():
    """0.99 * anchors + 0.01 * (mean real logit 0.5, mean fake logit -1.25)."""
    updated = lecam_anchors(LOGITS, tf.constant([1.0, 0.0])).numpy()
    np.testing.assert_allclose(updated, [0.99 + 0.005, -0.0125], rtol=1e-6)


def sigmoid_bce(target: float, logit: float) -> float:
    return -(target * math.log(1 / (1 + math.exp(-logit)))
             + (1 - target) * math.log(1 - 1 / (1 + math.exp(-logit))))  # fmt: skip


def test_relativistic_average_matches_its_closed_form():
    """RaSGAN: D: BCE(1, D(x_r) - mean D(x_f)) + BCE(0, D(x_f) - mean D(x_r)); G swaps the
    targets. Mean real logit 0.5, mean fake -1.25."""
    loss = LOSSES.get("relativistic_average")
    real_vs_fake = [2.0 + 1.25, -1.0 + 1.25]
    fake_vs_real = [0.5 - 0.5, -3.0 - 0.5]

    def expected(real_target: float) -> float:
        return np.mean([sigmoid_bce(real_target, v) for v in real_vs_fake]) + np.mean(
            [sigmoid_bce(1 - real_target, v) for v in fake_vs_real]
        )

    assert float(loss.discriminator(LOGITS)) == pytest.approx(expected(1.0), rel=1e-5)
    assert float(loss.generator(LOGITS)) == pytest.approx(expected(0.0), rel=1e-5)


def test_relativistic_generator_reads_real_logits_only_when_asked():
    """The generator's phase computes D on real images lazily: once, for the losses that read
    them (the relativistic one), never for the others."""
    calls = []

    def discriminate_real():
        calls.append(1)
        return REAL

    def generator_batch() -> Batch:
        return Batch(GENERATOR, fake_logits=FAKE, discriminate_real=discriminate_real)

    float(LOSSES.get("hinge").generator(generator_batch()))
    assert calls == []
    ra = float(LOSSES.get("relativistic_average").generator(generator_batch()))
    assert calls == [1] and ra == pytest.approx(
        float(LOSSES.get("relativistic_average").generator(LOGITS))
    )
