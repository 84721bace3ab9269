"""Class-conditional GANs for any registered model (`training.conditional=true`).

The model's own networks are wrapped, so every architecture becomes conditional with no edit:

- generator: ``[noise, label] -> image``; the label's learned embedding (``label_embedding``,
  EMBEDDING_DIM wide) is concatenated to the noise, and the model's generator is built for the
  longer input;
- discriminator: ``[image, label] -> logit``, a projection discriminator (Miyato & Koyama
  2018): the model's discriminator up to its last layer gives features h, and the logit is
  that last (linear) layer's output plus <embed(label), h>.

``pipeline.gan.sampling`` calls either kind of generator.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.config import ModelConfig
from pipeline.errors import PipelineError
from pipeline.gan.sampling import LABEL_EMBEDDING

EMBEDDING_DIM = 32


def conditional_networks(
    model: ModelConfig, image_shape: tuple[int, int, int], num_classes: int
) -> tuple[Any, Any]:
    """The model's networks, built for a label-extended latent and wrapped as above."""
    import keras
    from keras import layers

    from pipeline.models import build_networks

    latent_dim = model.latent_dim
    generator, discriminator = build_networks(
        dataclasses.replace(model, latent_dim=latent_dim + EMBEDDING_DIM), image_shape
    )
    noise = keras.Input((latent_dim,), name="noise")
    label = keras.Input((), dtype="int32", name="label")
    embedded = layers.Embedding(num_classes, EMBEDDING_DIM, name=LABEL_EMBEDDING)(label)
    images = generator(layers.Concatenate()([noise, embedded]))
    conditional_generator = keras.Model([noise, label], images, name="generator")

    last = discriminator.layers[-1]
    inner = getattr(last, "layer", last)  # SpectralNormalization wraps its layer
    if not isinstance(inner, layers.Dense) or inner.units != 1:
        raise PipelineError(
            f"training.conditional needs a discriminator whose last layer is a Dense(1) logit; "
            f"{model.name}'s ends with {type(inner).__name__}",
            "set training.conditional=false, or give the model a linear logit layer",
        )
    features = keras.Model(discriminator.inputs[0], discriminator.layers[-2].output)
    image_in = keras.Input(image_shape, name="image")
    label_in = keras.Input((), dtype="int32", name="label")
    h = features(image_in)
    projection = layers.Embedding(num_classes, int(h.shape[-1]), name="label_projection")
    logit = layers.Add()([last(h), layers.Dot(axes=1)([projection(label_in), h])])
    conditional_discriminator = keras.Model([image_in, label_in], logit, name="discriminator")
    return conditional_generator, conditional_discriminator
