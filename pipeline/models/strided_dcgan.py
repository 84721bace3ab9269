"""Strided DCGANs: the compact DCGAN of the idiomatic Keras kind (the default), whose depth
follows the image size, and the DCGAN of TensorFlow's own MNIST tutorial (tensorflow.org,
tutorials, generative/dcgan), kept as a baseline with every layer spelled out.

Following the resolution (``width``/``max_width`` set): a seed grid of 4 to 7 pixels (7x7 for
28, 4x4 for 32, 64 and 128), one 4x4 stride-2 transposed convolution per doubling (BatchNorm +
LeakyReLU between), ``width`` channels at half the image size and twice as many per halving
below it, at most ``max_width``; the discriminator is the mirror image (one stride-2
convolution per halving, down to the seed's size). At 28x28 that is [128, 64] and [64, 128].

Tutorial generator: Dense(s*s*256, no bias) BN LeakyReLU, Conv2DTranspose 128 5x5 stride 1,
64 5x5 stride 2, C 5x5 stride 2 with tanh, BN + LeakyReLU between; discriminator Conv2D 64 and
128 (5x5, stride 2), each LeakyReLU + Dropout(0.3), Dense(1) logit. `s` is the image size / 4
(7 for 28x28, 8 for 32x32).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.config import ModelConfig, setting
from pipeline.errors import PipelineError
from pipeline.models import (
    MODELS,
    Networks,
    batch_normalization,
    channel_schedule,
    doublings,
    minibatch_stddev,
    normalized,
    square_size,
)

if TYPE_CHECKING:
    import keras


@dataclass
class StridedDcganConfig(ModelConfig):
    # Depth from dataset.image_size: channels at half the image size, doubled per halving below
    # it up to max_width (null both to spell the layers out below instead).
    width: int | None = setting(ge=1)
    max_width: int | None = setting(ge=1)
    # Or every layer spelled out (null when width is set): channels of the seed grid, then of
    # each transposed convolution but the last (which makes the image); strides of all of them,
    # whose product must be image size / seed size; the discriminator's stride-2 convolutions.
    generator_filters: list[int] | None = setting(ge=1)
    generator_strides: list[int] | None = setting(choices=(1, 2))
    discriminator_filters: list[int] | None = setting(ge=1)
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
def build_strided_dcgan(cfg: StridedDcganConfig, image_shape: tuple[int, int, int]) -> Networks:
    g_filters, g_strides, d_filters = layer_plan(cfg, image_shape)
    return (
        strided_generator(
            cfg.latent_dim, image_shape, g_filters, g_strides, cfg.kernel_size,
            cfg.leaky_relu_slope,
        ),
        strided_discriminator(
            image_shape, d_filters, cfg.kernel_size, cfg.dropout, cfg.leaky_relu_slope,
            cfg.spectral_norm, cfg.minibatch_std,
        ),
    )  # fmt: skip


LISTS = ("generator_filters", "generator_strides", "discriminator_filters")


def layer_plan(
    cfg: StridedDcganConfig, image_shape: tuple[int, int, int]
) -> tuple[list[int], list[int], list[int]]:
    """(generator_filters, generator_strides, discriminator_filters): derived from the image
    size when ``width`` is set, else the lists as given."""
    lists = (cfg.generator_filters, cfg.generator_strides, cfg.discriminator_filters)
    spelled = [key for key, value in zip(LISTS, lists, strict=True) if value is not None]
    pair = [cfg.width, cfg.max_width]
    derived = None not in pair
    if derived == bool(spelled) or len(spelled) not in (0, len(LISTS)) or pair.count(None) == 1:
        raise PipelineError(
            "strided_dcgan needs either model.width and model.max_width (depth from the image "
            f"size) or all of model.{', model.'.join(LISTS)}; got width={pair[0]}, "
            f"max_width={pair[1]} and {', '.join(spelled) or 'none of the lists'}",
            "set model.width=64 model.max_width=256 and null the lists (as model=strided_dcgan "
            "does), or null model.width and model.max_width",
        )
    if cfg.width is None or cfg.max_width is None:  # not derived: every list is given
        g_filters, g_strides, d_filters = (list(value or []) for value in lists)
        return g_filters, g_strides, d_filters
    size = square_size(image_shape, "strided_dcgan")
    steps = doublings(size, "strided_dcgan")
    seed = size >> steps
    hidden = [seed << i for i in range(steps)]  # the generator's grids below the image's size
    widths = channel_schedule(hidden, size // 2, cfg.width, cfg.max_width)
    return widths, [2] * steps, widths[::-1]


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
            "set model.generator_strides, e.g. [1, 2, 2] for 28x28 or 32x32 images (or "
            "model.width, which derives them from the image size)",
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
