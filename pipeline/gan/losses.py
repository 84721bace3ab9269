"""GAN losses: a table name -> GanLoss, chosen by `loss.name` (conf/loss/).

A loss is two functions of one signature, one per phase of the train step:

    discriminator(batch: Batch, **settings) -> scalar
    generator(batch: Batch, **settings) -> scalar

``batch`` (`pipeline.gan.batch`) holds both logits in both phases: in the generator's phase
``batch.real_logits`` is computed when a loss reads it (the relativistic losses), so the others
cost no extra pass. ``settings`` are the loss's config keys other than ``name`` (its schema
lists them). A new loss is two such functions registered here with ``LOSSES.add`` plus a YAML
file in conf/loss/ (CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.config import LossConfig, setting
from pipeline.gan.batch import Batch
from pipeline.plugins import Catalog

Tensor = Any  # a backend tensor; keras is imported inside the functions, not at import time


@dataclass(frozen=True)
class GanLoss:
    discriminator: Callable[..., Tensor]  # (batch, **settings) -> D's loss
    generator: Callable[..., Tensor]  # (batch, **settings) -> G's loss


LOSSES: Catalog[GanLoss] = Catalog("loss", "loss")


def _bce(labels: Tensor, logits: Tensor) -> Tensor:
    import keras

    return keras.ops.mean(keras.losses.binary_crossentropy(labels, logits, from_logits=True))


def _ones(x: Tensor) -> Tensor:
    import keras

    return keras.ops.ones_like(x)


def _zeros(x: Tensor) -> Tensor:
    import keras

    return keras.ops.zeros_like(x)


# --- non-saturating (Goodfellow et al. 2014), the DCGAN tutorials' loss -------------------------


@dataclass
class NonSaturatingConfig(LossConfig):
    # One-sided label smoothing (Salimans et al. 2016): real targets become 1 - label_smoothing.
    label_smoothing: float = setting(ge=0, lt=1)


def non_saturating_discriminator(batch: Batch, label_smoothing: float = 0.0) -> Tensor:
    real, fake = batch.real_logits, batch.fake_logits
    return _bce(_ones(real) * (1.0 - label_smoothing), real) + _bce(_zeros(fake), fake)


def non_saturating_generator(batch: Batch, **_: Any) -> Tensor:
    return _bce(_ones(batch.fake_logits), batch.fake_logits)


LOSSES.add(
    "non_saturating",
    GanLoss(non_saturating_discriminator, non_saturating_generator),
    NonSaturatingConfig,
)


# --- hinge (Lim & Ye 2017; Miyato et al. 2018 with spectral normalization) ----------------------


def hinge_discriminator(batch: Batch) -> Tensor:
    from keras import ops

    return ops.mean(ops.relu(1.0 - batch.real_logits)) + ops.mean(ops.relu(1.0 + batch.fake_logits))


def hinge_generator(batch: Batch) -> Tensor:
    from keras import ops

    return -ops.mean(batch.fake_logits)


LOSSES.add("hinge", GanLoss(hinge_discriminator, hinge_generator), LossConfig)


# --- least squares (Mao et al. 2017), targets real 1, fake 0 ------------------------------------


def least_squares_discriminator(batch: Batch) -> Tensor:
    from keras import ops

    real, fake = batch.real_logits, batch.fake_logits
    return 0.5 * (ops.mean(ops.square(real - 1.0)) + ops.mean(ops.square(fake)))


def least_squares_generator(batch: Batch) -> Tensor:
    from keras import ops

    return 0.5 * ops.mean(ops.square(batch.fake_logits - 1.0))


LOSSES.add(
    "least_squares", GanLoss(least_squares_discriminator, least_squares_generator), LossConfig
)


# --- Wasserstein (Arjovsky et al. 2017); pair it with the `gp` regularizer (WGAN-GP) -------------


def wasserstein_discriminator(batch: Batch) -> Tensor:
    from keras import ops

    return ops.mean(batch.fake_logits) - ops.mean(batch.real_logits)


def wasserstein_generator(batch: Batch) -> Tensor:
    from keras import ops

    return -ops.mean(batch.fake_logits)


LOSSES.add("wasserstein", GanLoss(wasserstein_discriminator, wasserstein_generator), LossConfig)


# --- relativistic average (Jolicoeur-Martineau 2018, RaSGAN) ------------------------------------
# D judges whether a real image is more realistic than the average fake, and a fake than the
# average real; G plays the same game with the targets swapped, so it needs D on real images too.


def _relativistic(batch: Batch, real_target: float) -> Tensor:
    from keras import ops

    real, fake = batch.real_logits, batch.fake_logits
    real_vs_fake = real - ops.mean(fake)
    fake_vs_real = fake - ops.mean(real)
    return _bce(_ones(real) * real_target, real_vs_fake) + _bce(
        _ones(fake) * (1.0 - real_target), fake_vs_real
    )


def relativistic_average_discriminator(batch: Batch) -> Tensor:
    return _relativistic(batch, real_target=1.0)


def relativistic_average_generator(batch: Batch) -> Tensor:
    return _relativistic(batch, real_target=0.0)


LOSSES.add(
    "relativistic_average",
    GanLoss(relativistic_average_discriminator, relativistic_average_generator),
    LossConfig,
)
