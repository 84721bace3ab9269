"""Network architectures, chosen by `model.name` from the MODELS registry.

A model is one module in this package: a config schema (a dataclass with a `name` field) and a
builder registered under that name, ``builder(model_cfg, image_shape) -> (generator,
discriminator)``, plus a YAML file in conf/model/. Every module here is imported when the
package is, so a new file registers itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline.plugins import Catalog, import_submodules

if TYPE_CHECKING:
    import keras

Networks = tuple["keras.Model", "keras.Model"]
Builder = Callable[[Mapping[str, Any], tuple[int, int, int]], Networks]

MODELS: Catalog[Builder] = Catalog("model", "model")


def build_networks(model_cfg: Mapping[str, Any], image_shape: tuple[int, int, int]) -> Networks:
    """(generator, discriminator) for ``model_cfg["name"]``; the generator's input is the
    noise vector of ``model_cfg["latent_dim"]``, its output images in [-1, 1], the
    discriminator's output one logit per image."""
    return MODELS.get(str(model_cfg["name"]))(model_cfg, image_shape)


def normalized(layer: keras.layers.Layer, spectral_norm: bool) -> keras.layers.Layer:
    """``layer`` wrapped in spectral normalization (Miyato et al. 2018) when asked, else itself:
    the `model.spectral_norm` switch of every discriminator here."""
    if not spectral_norm:
        return layer
    from keras import layers

    return layers.SpectralNormalization(layer)


def batch_normalization(**kwargs: Any) -> keras.layers.Layer:
    """BatchNormalization, with statistics over the global batch (``synchronized``) when built
    under a distribution strategy of several replicas (`training.strategy`), so that a batch
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
        def call(self, features):
            std = ops.sqrt(ops.var(ops.cast(features, "float32"), axis=0) + 1e-8)
            stat = ops.cast(ops.mean(std), features.dtype)
            extra = ops.ones_like(features[..., :1]) * stat
            return ops.concatenate([features, extra], axis=-1)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], input_shape[-1] + 1)

    return MinibatchStddev


import_submodules(__name__)
