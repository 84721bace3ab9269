"""Loss terms beside the adversarial loss, for either network: a table name -> Term, chosen by
the `regularizers` config group (conf/regularizers/), several at once (`regularizers=[r1]`).

A term is one function of the phase's batch (`pipeline.gan.batch.Batch`, the step contract),

    term(batch, **settings) -> the weighted scalar            (stateless)
    term(batch, state, **settings) -> the weighted scalar     (``state_size`` > 0)

registered with ``@term(name, Settings, network=...)``. The train step adds it to the loss of
its ``network`` and logs it under its name, beside d_loss and g_loss (which stay the adversarial
parts alone, comparable across runs). A term that keeps state across steps declares its size
and an ``update(batch, state) -> state`` run after each update of its network: the GAN
allocates that state only when the term is on, and checkpoints it. A new term is one function
here plus a YAML file in conf/regularizers/ (CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.config import setting
from pipeline.gan.batch import DISCRIMINATOR, GENERATOR, Batch
from pipeline.plugins import Catalog

Tensor = Any


@dataclass(frozen=True)
class Term:
    fn: Callable[..., Tensor]  # (batch[, state], **settings) -> the weighted scalar term
    network: str = DISCRIMINATOR  # whose loss it joins: DISCRIMINATOR or GENERATOR
    state_size: int = 0  # floats kept across steps (allocated only when on; checkpointed)
    update: Callable[[Batch, Tensor], Tensor] | None = None  # (batch, state) -> next state
    # The generator's batch as two halves of different noise and the same labels: pairs
    # (i, half + i) that differ only in their noise (mode seeking compares them)
    paired: bool = False


REGULARIZERS: Catalog[Term] = Catalog("regularizer", "regularizers")


def term(
    name: str,
    schema: type,
    *,
    network: str = DISCRIMINATOR,
    state_size: int = 0,
    update: Callable[[Batch, Tensor], Tensor] | None = None,
    paired: bool = False,
) -> Callable[[Callable[..., Tensor]], Callable[..., Tensor]]:
    """Register the decorated function as the term ``name`` with its settings' ``schema``."""
    if network not in (DISCRIMINATOR, GENERATOR):
        raise ValueError(f"network must be {DISCRIMINATOR!r} or {GENERATOR!r}, not {network!r}")

    def decorate(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
        REGULARIZERS.add(name, Term(fn, network, state_size, update, paired), schema)
        return fn

    return decorate


# --- the discriminator's ------------------------------------------------------------------------


@dataclass
class R1Config:
    gamma: float = setting(ge=0)  # the term is gamma / 2 * E ||grad_x D(x)||^2 over real x
    every: int = setting(ge=1)  # lazy regularization (StyleGAN2): every k steps, scaled by k


@term("r1", R1Config)
def r1(batch: Batch, gamma: float, every: int) -> Tensor:
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


@term("gp", GradientPenaltyConfig)
def gp(batch: Batch, weight: float, target: float) -> Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017): weight * E (||grad D(x_hat)|| - target)^2 on
    random interpolates x_hat of real and fake images. The mixing weights come from the phase's
    own stream ("mixing"), so a resumed run draws what an uninterrupted one would."""
    import tensorflow as tf

    real = tf.convert_to_tensor(batch.real_images)
    fake = tf.cast(batch.fake_images, real.dtype)
    shape = tf.concat([tf.shape(real)[:1], tf.ones(tf.rank(real) - 1, tf.int32)], axis=0)
    assert batch.seed is not None, "the train step hands every phase its seeds"
    alpha = tf.random.stateless_uniform(shape, seed=batch.seed("mixing"), dtype=real.dtype)
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


LOGIT_EMA_DECAY = 0.99  # of LeCam's anchors, as in the authors' code


def lecam_anchors(batch: Batch, anchors: Tensor) -> Tensor:
    """LeCam's state after a discriminator update: moving averages of D's mean logit on real
    and on generated images."""
    from keras import ops

    means = ops.stack([ops.mean(batch.real_logits), ops.mean(batch.fake_logits)])
    means = ops.cast(ops.stop_gradient(means), anchors.dtype)
    return LOGIT_EMA_DECAY * anchors + (1 - LOGIT_EMA_DECAY) * means


@term("lecam", LeCamConfig, state_size=2, update=lecam_anchors)
def lecam(batch: Batch, anchors: Tensor, weight: float) -> Tensor:
    """LeCam regularization (Tseng et al. 2021): pulls the discriminator's outputs on real images
    towards the moving average of its outputs on fakes (``anchors[1]``), and the fakes' towards
    the reals' (``anchors[0]``), which keeps it from growing over-confident (the authors'
    hinge-clipped form)."""
    from keras import ops

    real = ops.mean(ops.square(ops.relu(batch.real_logits - anchors[1])))
    fake = ops.mean(ops.square(ops.relu(anchors[0] - batch.fake_logits)))
    return weight * (real + fake)


# --- the generator's ----------------------------------------------------------------------------


@dataclass
class ModeSeekingConfig:
    weight: float = setting(ge=0)  # 1.0 in the MSGAN paper


def mode_seeking_ratio(images_a: Tensor, images_b: Tensor, noise_a: Tensor, noise_b: Tensor) -> Any:
    """MSGAN's term (Mao et al. 2019): 1 / (ratio + eps), where ratio = mean |G(z_a, c) -
    G(z_b, c)| / mean |z_a - z_b| over pairs that share their label c. A generator that ignores
    its noise (mode collapse within a class) makes it large."""
    from keras import ops

    images = ops.mean(ops.abs(ops.cast(images_a, "float32") - ops.cast(images_b, "float32")))
    noise = ops.mean(ops.abs(noise_a - noise_b))
    return 1.0 / (images / noise + 1e-5)


@term("mode_seeking", ModeSeekingConfig, network=GENERATOR, paired=True)
def mode_seeking(batch: Batch, weight: float) -> Tensor:
    """The mode-seeking term on the generator's paired batch, so weighted."""
    from keras import ops

    half = ops.shape(batch.generated)[0] // 2
    images, noise = batch.generated, batch.noise
    ratio = mode_seeking_ratio(images[:half], images[half : 2 * half], noise[:half],
                               noise[half : 2 * half])  # fmt: skip
    return weight * ratio
