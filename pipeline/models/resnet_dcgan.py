"""A residual DCGAN of the SNGAN kind (Miyato et al. 2018, the CIFAR-10 ResNet), sized for CPUs.

Generator: Dense to an s x s seed, one up-sampling residual block per doubling (BN, ReLU,
nearest up-sampling, two 3x3 convolutions; a 1x1 convolution on the up-sampled shortcut), then
BN, ReLU and a 3x3 convolution to the image with tanh. Discriminator, the mirror image: one
down-sampling residual block per halving (ReLU, two 3x3 convolutions, 2x2 average pooling; the
first without the leading ReLU), one plain residual block, ReLU, a global average and a linear
logit; with ``spectral_norm`` every layer of it is spectrally normalized.

The depth follows the image size: s is a grid of 4 to 7 pixels (7 for 28x28, 4 for 32, 64,
128), unless ``blocks`` fixes it. A block working at r pixels has ``width`` channels at the
image's size and twice as many per halving below it, at most ``max_width``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig, setting
from pipeline.errors import PipelineError
from pipeline.models import (
    MODELS,
    Networks,
    batch_normalization,
    channel_schedule,
    doublings,
    normalized,
    square_size,
)

if TYPE_CHECKING:
    import keras


@dataclass
class ResnetDcganConfig(ModelConfig):
    # Up-sampling blocks in G, down-sampling blocks in D; null: one per doubling from a seed of
    # 4 to 7 pixels to the image size
    blocks: int | None = setting(ge=1)
    generator_width: int = setting(ge=1)  # channels of a block at the image's size
    discriminator_width: int = setting(ge=1)
    max_width: int = setting(ge=1)  # doubled per halving below the image's size, up to this
    spectral_norm: bool = setting()


@MODELS.register("resnet_dcgan", ResnetDcganConfig)
def build_resnet_dcgan(cfg: ResnetDcganConfig, image_shape: tuple[int, int, int]) -> Networks:
    size = square_size(image_shape, "resnet_dcgan")
    blocks = cfg.blocks if cfg.blocks is not None else doublings(size, "resnet_dcgan")
    if size % 2**blocks:
        raise PipelineError(
            f"resnet_dcgan: {blocks} blocks halve the size {blocks} times, which {size}x{size} "
            "images do not allow",
            "set model.blocks=null (one block per doubling from a 4-7 pixel seed), or a number "
            "whose power of 2 divides the image size",
        )
    # the grids the blocks work at, from the seed's up to the image's
    grids = [size >> (blocks - i) for i in range(1, blocks + 1)]
    return (
        resnet_generator(
            cfg.latent_dim, image_shape, grids,
            channel_schedule(grids, size, cfg.generator_width, cfg.max_width),
        ),
        resnet_discriminator(
            image_shape, channel_schedule(grids[::-1], size, cfg.discriminator_width,
                                          cfg.max_width),
            cfg.spectral_norm,
        ),
    )  # fmt: skip


def resnet_generator(
    latent_dim: int, image_shape: tuple[int, int, int], grids: list[int], widths: list[int]
) -> keras.Model:
    """Blocks whose outputs are ``grids`` pixels wide with ``widths`` channels (the seed is half
    the first grid, with the first block's channels)."""
    import keras
    from keras import layers

    channels = image_shape[2]
    seed = grids[0] // 2
    noise = keras.Input((latent_dim,))
    x = layers.Reshape((seed, seed, widths[0]))(layers.Dense(seed * seed * widths[0])(noise))
    for width in widths:
        shortcut = layers.Conv2D(width, 1)(layers.UpSampling2D()(x))
        h = layers.ReLU()(batch_normalization()(x))
        h = layers.Conv2D(width, 3, padding="same")(layers.UpSampling2D()(h))
        h = layers.ReLU()(batch_normalization()(h))
        h = layers.Conv2D(width, 3, padding="same")(h)
        x = layers.Add()([shortcut, h])
    x = layers.ReLU()(batch_normalization()(x))
    image = layers.Conv2D(channels, 3, padding="same", activation="tanh")(x)
    return keras.Model(noise, image, name="generator")


def resnet_discriminator(
    image_shape: tuple[int, int, int], widths: list[int], spectral_norm: bool
) -> keras.Model:
    """One down-sampling block per entry of ``widths`` (its channels), then a plain block."""
    import keras
    from keras import layers

    def block(x: Any, width: int, down: bool, first: bool) -> Any:
        h = x if first else layers.ReLU()(x)
        h = normalized(layers.Conv2D(width, 3, padding="same"), spectral_norm)(h)
        h = normalized(layers.Conv2D(width, 3, padding="same"), spectral_norm)(layers.ReLU()(h))
        shortcut = x
        if down:
            h = layers.AveragePooling2D(2)(h)
            shortcut = layers.AveragePooling2D(2)(x) if first else x
            shortcut = normalized(layers.Conv2D(width, 1), spectral_norm)(shortcut)
            if not first:
                shortcut = layers.AveragePooling2D(2)(shortcut)
        return layers.Add()([shortcut, h])

    image = keras.Input(image_shape)
    x = image
    for i, width in enumerate(widths):
        x = block(x, width, down=True, first=i == 0)
    x = block(x, widths[-1], down=False, first=False)
    x = layers.GlobalAveragePooling2D()(layers.ReLU()(x))  # SNGAN sums; a mean scales alike
    return keras.Model(image, normalized(layers.Dense(1), spectral_norm)(x), name="discriminator")
