"""Network architectures, chosen by `model.name` from the MODELS registry.

A model is one module in this package: a config schema (a dataclass with a `name` field) and a
builder registered under that name, ``builder(model_cfg, image_shape) -> (generator,
discriminator)``, plus a YAML file in conf/model/. Every module here is imported when the
package is, so a new file registers itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig
from pipeline.errors import PipelineError
from pipeline.plugins import Catalog, import_submodules

if TYPE_CHECKING:
    import keras

Networks = tuple["keras.Model", "keras.Model"]
# builder(its schema's settings, image_shape): each model declares the type it takes
Builder = Callable[[Any, tuple[int, int, int]], Networks]

MODELS: Catalog[Builder] = Catalog("model", "model")


def build_networks(model_cfg: ModelConfig, image_shape: tuple[int, int, int]) -> Networks:
    """(generator, discriminator) for ``model_cfg.name``; the generator's input is the
    noise vector of ``model_cfg.latent_dim``, its output images in [-1, 1], the
    discriminator's output one logit per image."""
    return MODELS.get(model_cfg.name)(model_cfg, image_shape)


MAX_SEED = 7  # a seed grid of 4 to 7 pixels: 7 for 28, 6 for 48 and 96, 4 for 32, 64, 128, 256


def doublings(size: int, model: str) -> int:
    """How many 2x up-samplings reach an image of ``size`` pixels from a seed grid of 4 to 7
    (28 -> 2 from 7x7, 32 -> 3 and 64 -> 4 from 4x4, 96 -> 4 from 6x6): the depth of a network
    that follows the resolution. A size that no halving brings to 7 or less is refused."""
    seed, steps = size, 0
    while seed % 2 == 0 and seed > MAX_SEED:
        seed, steps = seed // 2, steps + 1
    if steps == 0 or seed > MAX_SEED:
        raise PipelineError(
            f"{model} cannot build {size}x{size} images: it up-samples a seed grid of 4 to "
            f"{MAX_SEED} pixels by doubling, and {size} is not such a grid times a power of 2",
            "set dataset.image_size to one of 28, 32, 48, 64, 96, 128, 256 (and re-run "
            "prepare), or use model=mlp, which takes any size",
        )
    return steps


def channel_schedule(sizes: Sequence[int], top: int, width: int, max_width: int) -> list[int]:
    """Channels of feature maps of each of ``sizes`` pixels: ``width`` at ``top`` pixels, twice
    as many at each halving below it, at most ``max_width`` (the usual DCGAN/StyleGAN schedule:
    wide where the grid is small, narrow where it is large and costly)."""
    return [min(max_width, width * max(1, top // size)) for size in sizes]


def square_size(image_shape: tuple[int, int, int], model: str) -> int:
    """The side of ``image_shape``, which networks that follow the resolution want square (a
    prepared image folder always is)."""
    height, width, _ = image_shape
    if height != width:
        raise PipelineError(
            f"{model} builds square images, not {height}x{width}",
            "prepare the data at one dataset.image_size (image folders are made square by "
            "dataset.resize)",
        )
    return height


def normalized(layer: keras.layers.Layer, spectral_norm: bool) -> keras.layers.Layer:
    """``layer`` wrapped in spectral normalization (Miyato et al. 2018) when asked, else itself:
    the `model.spectral_norm` switch of every discriminator here."""
    if not spectral_norm:
        return layer
    from keras import layers

    return layers.SpectralNormalization(layer)


def batch_normalization(**kwargs: Any) -> keras.layers.Layer:
    """BatchNormalization, with statistics over the global batch (``synchronized``) when built
    under a distribution strategy of several replicas (`compute.strategy`), so that a batch
    split across devices normalises as it would on one. Every model here uses this."""
    import keras
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return keras.layers.BatchNormalization(synchronized=replicas > 1, **kwargs)


def minibatch_stddev() -> keras.layers.Layer:
    """A layer that appends one channel to a discriminator's feature map: the standard deviation
    of the features across the batch, averaged to one number (Karras et al. 2018, "Progressive
    Growing of GANs", section 3). A batch of near-identical fakes then looks unlike a batch of
    real images, which pushes the generator toward variety (recall, coverage)."""
    return _minibatch_stddev_class()()


@functools.cache  # one class, made on first use: importing the catalog stays free of Keras
def _minibatch_stddev_class() -> type:
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="pipeline")
    class MinibatchStddev(keras.layers.Layer):
        def call(self, features: Any) -> Any:
            std = ops.sqrt(ops.var(ops.cast(features, "float32"), axis=0) + 1e-8)
            stat = ops.cast(ops.mean(std), features.dtype)
            extra = ops.ones_like(features[..., :1]) * stat
            return ops.concatenate([features, extra], axis=-1)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return (*input_shape[:-1], input_shape[-1] + 1)

    return MinibatchStddev


import_submodules(__name__)
