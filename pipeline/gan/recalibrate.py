"""BatchNorm statistics for an averaged generator: its weights never produced the moving means
and variances its layers hold, so they are recomputed before it is sampled for good."""

from __future__ import annotations

import keras
import numpy as np

from pipeline.gan.sampling import num_classes


def all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of ``model``, those of nested models included (depth first)."""
    found: list[keras.layers.Layer] = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(all_layers(layer))
    return found


def recalibrate_batch_norm(
    generator: keras.Model, latent_dim: int, seed: int, batches: int = 20, batch_size: int = 256
) -> None:
    """Recompute the moving mean and variance of every BatchNormalization layer of
    ``generator`` for its current weights: the average, over ``batches`` batches of noise, of
    each layer's batch statistics. An averaged (EMA) generator's weights never produced the
    statistics its layers hold, so it is recalibrated before it is sampled for good."""
    layers = [
        layer for layer in all_layers(generator)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]  # fmt: skip
    if not layers:
        return
    momenta = [layer.momentum for layer in layers]
    classes = num_classes(generator)
    rng = np.random.default_rng(seed)
    try:
        for k in range(1, batches + 1):
            for layer in layers:
                layer.momentum = (k - 1) / k  # a running mean of the batches seen so far
            noise = rng.standard_normal((batch_size, latent_dim)).astype("float32")
            if len(generator.inputs) > 1:  # conditional: every class alike
                generator([noise, np.arange(batch_size, dtype="int32") % classes], training=True)
            else:
                generator(noise, training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
