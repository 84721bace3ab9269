"""A DCGAN for 28x28x1 and 32x32x3, and any size a 4 to 7 pixel seed doubles up to.

The discriminator is the CIFAR-10 tutorial's: 3x3 Conv2D 64/128/128/256, all but the first with
stride 2, LeakyReLU(0.2), Dropout(0.4). The generator mirrors it with Conv2DTranspose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.config import ModelConfig, setting
from pipeline.models import (
    MODELS,
    Networks,
    batch_normalization,
    doublings,
    normalized,
    square_size,
)

if TYPE_CHECKING:
    import keras


@dataclass
class DcganConfig(ModelConfig):
    generator_filters: int = setting(ge=1)  # width of the transposed convolutions
    # BatchNormalization after every hidden generator layer, as in the DCGAN paper.
    generator_batch_norm: bool = setting()
    discriminator_filters: list[int] = setting(ge=1)
    dropout: float = setting(ge=0, lt=1)
    leaky_relu_slope: float = setting(ge=0)
    spectral_norm: bool = setting()  # SN on every discriminator layer (SNGAN)


@MODELS.register("dcgan", DcganConfig)
def build_dcgan(cfg: DcganConfig, image_shape: tuple[int, int, int]) -> Networks:
    return (
        build_dcgan_generator(
            cfg.latent_dim,
            image_shape,
            cfg.generator_filters,
            cfg.leaky_relu_slope,
            cfg.generator_batch_norm,
        ),
        build_dcgan_discriminator(
            image_shape,
            list(cfg.discriminator_filters),
            cfg.dropout,
            cfg.leaky_relu_slope,
            cfg.spectral_norm,
        ),
    )


def build_dcgan_generator(
    latent_dim: int,
    image_shape: tuple[int, int, int],
    filters: int,
    leaky_relu_slope: float,
    batch_norm: bool,
) -> keras.Model:
    """``batch_norm`` adds BatchNormalization after every hidden layer, as in the DCGAN paper;
    it steadies early training (the CIFAR-10 tutorial's generator has none)."""
    import keras
    from keras import layers

    height, width, channels = image_shape
    steps = doublings(square_size(image_shape, "dcgan"), "dcgan")
    seed_h, seed_w = height // 2**steps, width // 2**steps
    model = keras.Sequential(name="generator")
    model.add(keras.Input(shape=(latent_dim,)))
    model.add(layers.Dense(seed_h * seed_w * 2 * filters, use_bias=not batch_norm))
    if batch_norm:
        model.add(batch_normalization())
    model.add(layers.LeakyReLU(leaky_relu_slope))
    model.add(layers.Reshape((seed_h, seed_w, 2 * filters)))
    for _ in range(steps):
        model.add(
            layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=not batch_norm)
        )
        if batch_norm:
            model.add(batch_normalization())
        model.add(layers.LeakyReLU(leaky_relu_slope))
    model.add(layers.Conv2D(channels, 3, padding="same", activation="tanh"))
    return model


def build_dcgan_discriminator(
    image_shape: tuple[int, int, int],
    filters: list[int],
    dropout: float,
    leaky_relu_slope: float,
    spectral_norm: bool = False,
) -> keras.Model:
    import keras
    from keras import layers

    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=image_shape))
    for i, width in enumerate(filters):
        model.add(
            normalized(
                layers.Conv2D(width, 3, strides=1 if i == 0 else 2, padding="same"), spectral_norm
            )
        )
        model.add(layers.LeakyReLU(leaky_relu_slope))
    model.add(layers.Flatten())
    model.add(layers.Dropout(dropout))
    model.add(normalized(layers.Dense(1), spectral_norm))  # a logit
    return model
