"""Strided DCGANs: the DCGAN of TensorFlow's own MNIST tutorial (tensorflow.org, tutorials,
generative/dcgan), kept as a baseline, and a compact DCGAN of the idiomatic Keras kind: two 4x4
stride-2 (transposed) convolutions per network, BatchNorm in the generator.

Tutorial generator: Dense(s*s*256, no bias) BN LeakyReLU, Conv2DTranspose 128 5x5 stride 1,
64 5x5 stride 2, C 5x5 stride 2 with tanh, BN + LeakyReLU between; discriminator Conv2D 64 and
128 (5x5, stride 2), each LeakyReLU + Dropout(0.3), Dense(1) logit. `s` is the image size / 4
(7 for 28x28, 8 for 32x32).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.config import setting
from pipeline.errors import PipelineError
from pipeline.models import MODELS, Networks, batch_normalization, minibatch_stddev, normalized

if TYPE_CHECKING:
    import keras


@dataclass
class StridedDcganConfig:
    name: str = setting()
    latent_dim: int = setting(ge=1)
    # Channels of the seed grid, then of each transposed convolution but the last (which makes
    # the image); strides of all of them. The strides' product must be image size / seed size.
    generator_filters: list[int] = setting(ge=1)
    generator_strides: list[int] = setting(choices=(1, 2))
    discriminator_filters: list[int] = setting(ge=1)  # each a stride-2 convolution
    kernel_size: int = setting(ge=1)
    dropout: float = setting(ge=0, lt=1)
    leaky_relu_slope: float = setting(ge=0)
    # Spectral normalization (Miyato et al. 2018) of every discriminator layer: each layer's top
    # singular value is kept near 1 (Keras's SpectralNormalization, one power iteration a call).
    spectral_norm: bool = setting()
    # A minibatch-standard-deviation channel before the discriminator's logit (ProGAN): it sees
    # how varied a batch is, so the generator is pushed toward variety (recall, coverage).
    minibatch_std: bool = setting()


@MODELS.register("strided_dcgan", StridedDcganConfig)
def build_strided_dcgan(cfg: Mapping[str, Any], image_shape: tuple[int, int, int]) -> Networks:
    return (
        strided_generator(
            cfg["latent_dim"], image_shape, list(cfg["generator_filters"]),
            list(cfg["generator_strides"]), cfg["kernel_size"], cfg["leaky_relu_slope"],
        ),
        strided_discriminator(
            image_shape, list(cfg["discriminator_filters"]), cfg["kernel_size"],
            cfg["dropout"], cfg["leaky_relu_slope"], cfg["spectral_norm"], cfg["minibatch_std"],
        ),
    )  # fmt: skip


def strided_generator(
    latent_dim: int,
    image_shape: tuple[int, int, int],
    filters: Sequence[int],
    strides: Sequence[int],
    kernel_size: int,
    leaky_relu_slope: float,
) -> keras.Model:
    import math

    import keras
    from keras import layers

    height, width, channels = image_shape
    scale = math.prod(strides)
    if len(strides) != len(filters) or height % scale or width % scale:
        raise PipelineError(
            f"strided_dcgan: {len(filters)} generator_filters need as many generator_strides "
            f"(got {len(strides)}), whose product ({scale}) must divide the image size {height}",
            "set model.generator_strides, e.g. [1, 2, 2] for 28x28 or 32x32 images",
        )
    model = keras.Sequential(name="generator")
    model.add(keras.Input(shape=(latent_dim,)))
    model.add(layers.Dense(height // scale * (width // scale) * filters[0], use_bias=False))
    model.add(batch_normalization())
    model.add(layers.LeakyReLU(leaky_relu_slope))
    model.add(layers.Reshape((height // scale, width // scale, filters[0])))
    outputs = [*filters[1:], channels]
    for i, (width_out, stride) in enumerate(zip(outputs, strides, strict=True)):
        last = i == len(outputs) - 1
        model.add(
            layers.Conv2DTranspose(
                width_out, kernel_size, strides=stride, padding="same", use_bias=False,
                activation="tanh" if last else None,
            )
        )  # fmt: skip
        if not last:
            model.add(batch_normalization())
            model.add(layers.LeakyReLU(leaky_relu_slope))
    return model


def strided_discriminator(
    image_shape: tuple[int, int, int],
    filters: Sequence[int],
    kernel_size: int,
    dropout: float,
    leaky_relu_slope: float,
    spectral_norm: bool = False,
    minibatch_std: bool = False,
) -> keras.Model:
    import keras
    from keras import layers

    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=image_shape))
    for width in filters:
        model.add(
            normalized(layers.Conv2D(width, kernel_size, strides=2, padding="same"), spectral_norm)
        )
        model.add(layers.LeakyReLU(leaky_relu_slope))
        if dropout:
            model.add(layers.Dropout(dropout))
    if minibatch_std:
        model.add(minibatch_stddev())
    model.add(layers.Flatten())
    model.add(normalized(layers.Dense(1), spectral_norm))  # a logit
    return model
