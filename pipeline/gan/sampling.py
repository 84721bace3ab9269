"""Sampling either kind of generator: unconditional (noise -> image) or class-conditional
([noise, label] -> image, pipeline.gan.conditional). A conditional one sampled without labels
cycles through the classes (0, 1, ..., K-1, 0, ...), so sample grids and evaluations cover
every class evenly. Light on purpose: evaluate and register import it, not the model code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.errors import PipelineError

LABEL_EMBEDDING = "label_embedding"  # the generator's; its input_dim is the number of classes


def num_classes(generator: Any) -> int:
    """K for a conditional generator, 0 for an unconditional one."""
    if len(generator.inputs) < 2:
        return 0
    return int(generator.get_layer(LABEL_EMBEDDING).input_dim)


def latent_dim(generator: Any) -> int:
    return int(generator.inputs[0].shape[-1])


def cycled_labels(count: int, classes: int) -> np.ndarray:
    return (np.arange(count) % classes).astype("int32")


def sample(generator: Any, noise: Any, labels: Any = None) -> Any:
    """Images from either kind of generator (inference mode); labels cycle when not given."""
    classes = num_classes(generator)
    if not classes:
        if labels is not None:
            raise PipelineError(
                "labels were given to an unconditional generator",
                "train with training.conditional=true to generate a chosen class",
            )
        return generator(noise, training=False)
    if labels is None:
        labels = cycled_labels(len(noise), classes)
    return generator([noise, np.asarray(labels, "int32")], training=False)
