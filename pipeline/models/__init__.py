"""Network architectures, chosen by `model.name` from the MODELS registry.

A model is one module in this package: a config schema (a dataclass with a `name` field) and a
builder registered under that name, ``builder(model_cfg, image_shape) -> (generator,
discriminator)``, plus a YAML file in conf/model/. Every module here is imported when the
package is, so a new file registers itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline.plugins import Registry, import_submodules

if TYPE_CHECKING:
    import keras

Networks = tuple["keras.Model", "keras.Model"]
Builder = Callable[[Mapping[str, Any], tuple[int, int, int]], Networks]

MODELS: Registry[Builder] = Registry("model", "model")


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


import_submodules(__name__)
