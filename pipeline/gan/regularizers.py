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
