"""Model builders, chosen by name from the `model` config group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from pipeline.models.dcgan import build_dcgan_discriminator, build_dcgan_generator
from pipeline.models.gan import GAN
from pipeline.models.mlp import build_mlp_discriminator, build_mlp_generator


def build_networks(
    model_cfg: Mapping[str, Any], image_shape: tuple[int, int, int]
) -> tuple[keras.Model, keras.Model]:
    """(generator, discriminator) for ``model_cfg.name``."""
    if model_cfg["name"] == "mlp":
        return (
            build_mlp_generator(
                model_cfg["latent_dim"],
                image_shape,
                list(model_cfg["generator_units"]),
                model_cfg["batch_norm_momentum"],
                model_cfg["leaky_relu_slope"],
            ),
            build_mlp_discriminator(
                image_shape, list(model_cfg["discriminator_units"]), model_cfg["leaky_relu_slope"]
            ),
        )
    if model_cfg["name"] == "dcgan":
        return (
            build_dcgan_generator(
                model_cfg["latent_dim"],
                image_shape,
                model_cfg["generator_filters"],
                model_cfg["leaky_relu_slope"],
                model_cfg["generator_batch_norm"],
            ),
            build_dcgan_discriminator(
                image_shape,
                list(model_cfg["discriminator_filters"]),
                model_cfg["dropout"],
                model_cfg["leaky_relu_slope"],
            ),
        )
    raise ValueError(f"unknown model {model_cfg['name']!r}")


__all__ = ["GAN", "build_networks"]
