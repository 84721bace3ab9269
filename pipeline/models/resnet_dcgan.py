"""A residual DCGAN of the SNGAN kind (Miyato et al. 2018, the CIFAR-10 ResNet), sized for CPUs.

Generator: Dense to an s x s x width seed, ``blocks`` up-sampling residual blocks (BN, ReLU,
nearest up-sampling, two 3x3 convolutions; a 1x1 convolution on the up-sampled shortcut), then
BN, ReLU and a 3x3 convolution to the image with tanh. Discriminator: ``blocks`` down-sampling
residual blocks (ReLU, two 3x3 convolutions, 2x2 average pooling; the first without the leading
ReLU), one plain residual block, ReLU, a global average and a linear logit; with ``spectral_norm``
every layer of it is spectrally normalized. s is the image size / 2**blocks: 8 for 32x32 with
two blocks, 7 for 28x28.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.config import setting
from pipeline.errors import PipelineError
from pipeline.models import MODELS, Networks, batch_normalization, normalized

if TYPE_CHECKING:
    import keras


@dataclass
class ResnetDcganConfig:
    name: str = setting()
    latent_dim: int = setting(ge=1)
    blocks: int = setting(ge=1)  # up-sampling blocks in G, down-sampling blocks in D
    generator_width: int = setting(ge=1)  # channels of every generator block
    discriminator_width: int = setting(ge=1)
    spectral_norm: bool = setting()


@MODELS.register("resnet_dcgan", ResnetDcganConfig)
def build_resnet_dcgan(cfg: Mapping[str, Any], image_shape: tuple[int, int, int]) -> Networks:
    height, width, _ = image_shape
    scale = 2 ** cfg["blocks"]
    if height % scale or width % scale:
        raise PipelineError(
            f"resnet_dcgan: {cfg['blocks']} blocks halve the size {cfg['blocks']} times, which "
            f"{height}x{width} images do not allow",
            "set model.blocks so that 2**blocks divides the image size (2 for 28x28 or 32x32)",
        )
    return (
        resnet_generator(cfg["latent_dim"], image_shape, cfg["blocks"], cfg["generator_width"]),
        resnet_discriminator(
            image_shape, cfg["blocks"], cfg["discriminator_width"], cfg["spectral_norm"]
        ),
    )


def resnet_generator(
    latent_dim: int, image_shape: tuple[int, int, int], blocks: int, width: int
) -> keras.Model:
    import keras
    from keras import layers

    height, image_width, channels = image_shape
    seed_h, seed_w = height // 2**blocks, image_width // 2**blocks
    noise = keras.Input((latent_dim,))
    x = layers.Reshape((seed_h, seed_w, width))(layers.Dense(seed_h * seed_w * width)(noise))
    for _ in range(blocks):
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
    image_shape: tuple[int, int, int], blocks: int, width: int, spectral_norm: bool
) -> keras.Model:
    import keras
    from keras import layers

    def block(x: Any, down: bool, first: bool) -> Any:
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
    for i in range(blocks):
        x = block(x, down=True, first=i == 0)
    x = block(x, down=False, first=False)
    x = layers.GlobalAveragePooling2D()(layers.ReLU()(x))  # SNGAN sums; a mean scales alike
    return keras.Model(image, normalized(layers.Dense(1), spectral_norm)(x), name="discriminator")
