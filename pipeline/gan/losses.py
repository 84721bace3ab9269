"""GAN losses: a table name -> GanLoss, chosen by `loss.name` (conf/loss/).

Each loss is two small functions on discriminator logits, with one signature each:

    discriminator(real_logits, fake_logits, **settings) -> scalar
    generator(fake_logits, **settings) -> scalar

``settings`` are the loss's config keys other than ``name`` (its schema lists them). A new loss
is two such functions registered here with ``LOSSES.add`` plus a YAML file in conf/loss/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.config import setting
from pipeline.plugins import Registry

Tensor = Any  # a backend tensor; keras is imported inside the functions, not at import time


@dataclass(frozen=True)
class GanLoss:
    discriminator: Callable[..., Tensor]
    generator: Callable[..., Tensor]


LOSSES: Registry[GanLoss] = Registry("loss", "loss")


def _bce(labels: Tensor, logits: Tensor) -> Tensor:
    import keras

    return keras.ops.mean(keras.losses.binary_crossentropy(labels, logits, from_logits=True))


# --- non-saturating (Goodfellow et al. 2014), the DCGAN tutorials' loss -------------------------


@dataclass
class NonSaturatingConfig:
    name: str = setting()
    # One-sided label smoothing (Salimans et al. 2016): real targets become 1 - label_smoothing.
    label_smoothing: float = setting(ge=0, lt=1)


def non_saturating_discriminator(
    real_logits: Tensor, fake_logits: Tensor, label_smoothing: float = 0.0
) -> Tensor:
    from keras import ops

    real_targets = ops.ones_like(real_logits)
    if label_smoothing:
        real_targets = real_targets * (1.0 - label_smoothing)
    return _bce(real_targets, real_logits) + _bce(ops.zeros_like(fake_logits), fake_logits)


def non_saturating_generator(fake_logits: Tensor, **_: Any) -> Tensor:
    from keras import ops

    return _bce(ops.ones_like(fake_logits), fake_logits)


LOSSES.add(
    "non_saturating",
    GanLoss(non_saturating_discriminator, non_saturating_generator),
    NonSaturatingConfig,
)


# --- hinge (Lim & Ye 2017; Miyato et al. 2018 with spectral normalization) ----------------------


@dataclass
class NameOnly:
    name: str = setting()


def hinge_discriminator(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    from keras import ops

    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def hinge_generator(fake_logits: Tensor) -> Tensor:
    from keras import ops

    return -ops.mean(fake_logits)


LOSSES.add("hinge", GanLoss(hinge_discriminator, hinge_generator), NameOnly)


# --- least squares (Mao et al. 2017), targets real 1, fake 0 ------------------------------------


def least_squares_discriminator(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    from keras import ops

    return 0.5 * (ops.mean(ops.square(real_logits - 1.0)) + ops.mean(ops.square(fake_logits)))


def least_squares_generator(fake_logits: Tensor) -> Tensor:
    from keras import ops

    return 0.5 * ops.mean(ops.square(fake_logits - 1.0))


LOSSES.add("least_squares", GanLoss(least_squares_discriminator, least_squares_generator), NameOnly)


# --- Wasserstein (Arjovsky et al. 2017); pair it with the `gp` regularizer (WGAN-GP) -------------


def wasserstein_discriminator(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    from keras import ops

    return ops.mean(fake_logits) - ops.mean(real_logits)


def wasserstein_generator(fake_logits: Tensor) -> Tensor:
    from keras import ops

    return -ops.mean(fake_logits)


LOSSES.add("wasserstein", GanLoss(wasserstein_discriminator, wasserstein_generator), NameOnly)
