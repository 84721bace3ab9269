"""The dense GAN of the classic MNIST tutorials: Dense + LeakyReLU(0.2) + BatchNorm, tanh output."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.config import ModelConfig, setting
from pipeline.models import MODELS, Networks, batch_normalization

if TYPE_CHECKING:
    import keras


@dataclass
class MlpConfig(ModelConfig):
    generator_units: list[int] = setting(ge=1)
    discriminator_units: list[int] = setting(ge=1)
    batch_norm_momentum: float = setting(ge=0, le=1)
    leaky_relu_slope: float = setting(ge=0)


@MODELS.register("mlp", MlpConfig)
def build_mlp(cfg: MlpConfig, image_shape: tuple[int, int, int]) -> Networks:
    return (
        build_mlp_generator(
            cfg.latent_dim,
            image_shape,
            list(cfg.generator_units),
            cfg.batch_norm_momentum,
            cfg.leaky_relu_slope,
        ),
        build_mlp_discriminator(image_shape, list(cfg.discriminator_units), cfg.leaky_relu_slope),
    )


def build_mlp_generator(
    latent_dim: int,
    image_shape: tuple[int, int, int],
    units: list[int],
    batch_norm_momentum: float,
    leaky_relu_slope: float,
) -> keras.Model:
    import keras
    from keras import layers

    model = keras.Sequential(name="generator")
    model.add(keras.Input(shape=(latent_dim,)))
    for width in units:
        model.add(layers.Dense(width))
        model.add(layers.LeakyReLU(leaky_relu_slope))
        model.add(batch_normalization(momentum=batch_norm_momentum))
    model.add(layers.Dense(math.prod(image_shape), activation="tanh"))
    model.add(layers.Reshape(image_shape))
    return model


def build_mlp_discriminator(
    image_shape: tuple[int, int, int], units: list[int], leaky_relu_slope: float
) -> keras.Model:
    import keras
    from keras import layers

    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=image_shape))
    model.add(layers.Flatten())
    for width in units:
        model.add(layers.Dense(width))
        model.add(layers.LeakyReLU(leaky_relu_slope))
    model.add(layers.Dense(1))  # a logit: the losses apply the sigmoid, which is more stable
    return model
