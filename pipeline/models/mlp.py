"""The dense GAN of the classic MNIST tutorials: Dense + LeakyReLU(0.2) + BatchNorm, tanh output."""

from __future__ import annotations

import math

import keras
from keras import layers


def build_mlp_generator(
    latent_dim: int,
    image_shape: tuple[int, int, int],
    units: list[int],
    batch_norm_momentum: float = 0.8,
    leaky_relu_slope: float = 0.2,
) -> keras.Model:
    model = keras.Sequential(name="generator")
    model.add(keras.Input(shape=(latent_dim,)))
    for width in units:
        model.add(layers.Dense(width))
        model.add(layers.LeakyReLU(leaky_relu_slope))
        model.add(layers.BatchNormalization(momentum=batch_norm_momentum))
    model.add(layers.Dense(math.prod(image_shape), activation="tanh"))
    model.add(layers.Reshape(image_shape))
    return model


def build_mlp_discriminator(
    image_shape: tuple[int, int, int], units: list[int], leaky_relu_slope: float = 0.2
) -> keras.Model:
    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=image_shape))
    model.add(layers.Flatten())
    for width in units:
        model.add(layers.Dense(width))
        model.add(layers.LeakyReLU(leaky_relu_slope))
    model.add(layers.Dense(1))  # a logit: the losses apply the sigmoid, which is more stable
    return model
