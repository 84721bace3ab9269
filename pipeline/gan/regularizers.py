"""Discriminator regularizers: a table name -> function, chosen by the `regularizers` config
group (conf/regularizers/), several at once (`regularizers=[r1]`).

Each is one function with one signature,

    regularizer(batch: DiscriminatorBatch, **settings) -> scalar loss term

returning its term already weighted. The train step adds every term to the discriminator's
loss and logs it under the regularizer's name, beside d_loss (which stays the adversarial part
alone, comparable across runs). A new regularizer is one function registered here with
``@REGULARIZERS.register(name, Schema)`` plus a YAML file in conf/regularizers/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.config import setting
from pipeline.plugins import Registry

Tensor = Any


@dataclass(frozen=True)
class DiscriminatorBatch:
    """What the discriminator's step has at hand when the regularizers are asked."""

    discriminator: Any  # keras.Model
    real_images: Tensor
    fake_images: Tensor
    real_logits: Tensor
    fake_logits: Tensor
    step: Tensor  # int64 scalar: the generator's step counter (0 on the first step)
    # Moving averages (decay LOGIT_EMA_DECAY) of the discriminator's mean logit on real and on
    # generated images, before this step: LeCam's anchors.
    real_logit_ema: Tensor = 0.0
    fake_logit_ema: Tensor = 0.0


LOGIT_EMA_DECAY = 0.99  # as in the LeCam authors' code


Regularizer = Callable[..., Tensor]
REGULARIZERS: Registry[Regularizer] = Registry("regularizer", "regularizers")


@dataclass
class R1Config:
    gamma: float = setting(ge=0)  # the term is gamma / 2 * E ||grad_x D(x)||^2 over real x
    every: int = setting(ge=1)  # lazy regularization (StyleGAN2): every k steps, scaled by k


@REGULARIZERS.register("r1", R1Config)
def r1(batch: DiscriminatorBatch, gamma: float, every: int) -> Tensor:
    """R1 gradient penalty on real images (Mescheder et al. 2018)."""
    import tensorflow as tf

    def penalty() -> Tensor:
        real = tf.identity(batch.real_images)  # a tensor of this (cond branch) graph
        with tf.GradientTape() as tape:
            tape.watch(real)
            total = tf.reduce_sum(batch.discriminator(real, training=True))
        grads = tape.gradient(total, real)
        squared = tf.reduce_sum(tf.square(grads), axis=tf.range(1, tf.rank(grads)))
        return 0.5 * gamma * every * tf.reduce_mean(squared)

    if every == 1:
        return penalty()
    return tf.cond(batch.step % every == 0, penalty, lambda: tf.constant(0.0))


@dataclass
class GradientPenaltyConfig:
    weight: float = setting(ge=0)  # lambda: 10 in Gulrajani et al. 2017
    target: float = setting(gt=0)  # the gradient norm aimed at (1: 1-Lipschitz)


@REGULARIZERS.register("gp", GradientPenaltyConfig)
def gp(batch: DiscriminatorBatch, weight: float, target: float) -> Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017): weight * E (||grad D(x_hat)|| - target)^2 on
    random interpolates x_hat of real and fake images. The mixing weights are a pure function of
    the step, so a resumed run draws what an uninterrupted one would."""
    import tensorflow as tf

    real = tf.convert_to_tensor(batch.real_images)
    fake = tf.cast(batch.fake_images, real.dtype)
    shape = tf.concat([tf.shape(real)[:1], tf.ones(tf.rank(real) - 1, tf.int32)], axis=0)
    replica = tf.distribute.get_replica_context()  # each replica its own mixing weights
    index = 0 if replica is None else replica.replica_id_in_sync_group
    seed = tf.stack([tf.cast(batch.step, tf.int64), 0x6770 + tf.cast(index, tf.int64)])
    alpha = tf.random.stateless_uniform(shape, seed=seed, dtype=real.dtype)
    mixed = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        total = tf.reduce_sum(batch.discriminator(mixed, training=True))
    grads = tape.gradient(total, mixed)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=tf.range(1, tf.rank(grads))) + 1e-12)
    return weight * tf.reduce_mean(tf.square(norms - target))


@dataclass
class LeCamConfig:
    weight: float = setting(ge=0)  # lambda: 0.3 in the paper's limited-data CIFAR runs


@REGULARIZERS.register("lecam", LeCamConfig)
def lecam(batch: DiscriminatorBatch, weight: float) -> Tensor:
    """LeCam regularization (Tseng et al. 2021): pulls the discriminator's outputs on real images
    towards the moving average of its outputs on fakes, and the fakes' towards the reals', which
    keeps it from growing over-confident (the authors' hinge-clipped form)."""
    from keras import ops

    real = ops.mean(ops.square(ops.relu(batch.real_logits - batch.fake_logit_ema)))
    fake = ops.mean(ops.square(ops.relu(batch.real_logit_ema - batch.fake_logits)))
    return weight * (real + fake)


def mode_seeking(images_a: Tensor, images_b: Tensor, noise_a: Tensor, noise_b: Tensor) -> Tensor:
    """MSGAN's mode-seeking term for the generator (Mao et al. 2019): 1 / (ratio + eps), where
    ratio = mean |G(z_a, c) - G(z_b, c)| / mean |z_a - z_b| over pairs that share their label c.
    Minimising it pushes apart the images of different noise, which a generator that ignores its
    noise (mode collapse within a class) does not do. ``training.mode_seeking`` weights it."""
    from keras import ops

    images = ops.mean(ops.abs(ops.cast(images_a, "float32") - ops.cast(images_b, "float32")))
    noise = ops.mean(ops.abs(noise_a - noise_b))
    return 1.0 / (images / noise + 1e-5)
