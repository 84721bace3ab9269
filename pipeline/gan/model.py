"""The GAN as one keras.Model with a custom train_step (the pattern of the keras.io GAN examples).

Keras 3 reads `trainable` when it traces the train function, so the old recipe of freezing the
discriminator inside a compiled combined model leaves it untrained. Here each network gets its
own optimizer and its own GradientTape, and nothing depends on `trainable` flags.

The loss and the regularizers are passed in (``compile``); the step returns every value it
tracks, and the callbacks, CSV files, MLflow and plots take their columns from that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from pipeline.gan.losses import GanLoss
from pipeline.gan.regularizers import DiscriminatorBatch, Regularizer


class GAN(keras.Model):
    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed = seed or 0
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_acc_real_tracker = keras.metrics.Mean(name="d_acc_real")
        self.d_acc_fake_tracker = keras.metrics.Mean(name="d_acc_fake")
        self.term_trackers: dict[str, keras.metrics.Mean] = {}
        # Both networks are built (they start from keras.Input), so the whole is too; saying so
        # lets weights be saved and restored before the first step.
        self.built = True

    def compile(
        self,
        d_optimizer: keras.Optimizer,
        g_optimizer: keras.Optimizer,
        gan_loss: GanLoss,
        loss_settings: Mapping[str, Any] | None = None,
        regularizers: Mapping[str, tuple[Regularizer, Mapping[str, Any]]] | None = None,
        **kwargs: Any,
    ) -> None:
        """``regularizers``: name -> (function, its settings); each term is tracked by name."""
        # optimizer=None: Keras would otherwise create an unused RMSprop that ends up in every
        # checkpoint. The two optimizers below do the work.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.gan_loss = gan_loss
        self.loss_settings = dict(loss_settings or {})
        self.regularizers = dict(regularizers or {})
        clash = set(self.regularizers) & {m.name for m in self.metrics}
        if clash:
            raise ValueError(f"regularizer names clash with tracked values: {sorted(clash)}")
        self.term_trackers = {name: keras.metrics.Mean(name=name) for name in self.regularizers}
        # Build the optimizers now so that checkpoints restored before the first step find
        # their variables.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_acc_real_tracker,
            self.d_acc_fake_tracker,
            *self.term_trackers.values(),
        ]

    @property
    def metric_names(self) -> list[str]:
        """What every step reports, in order: the columns of the training history."""
        return [m.name for m in self.metrics]

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def sample_noise(self, batch_size, stream: int):
        """Noise that is a pure function of (seed, step, stream): a run resumed from a checkpoint
        (which restores the step counter) draws exactly what an uninterrupted run would."""
        step = tf.cast(self.g_optimizer.iterations, tf.int64)
        seed = tf.stack([tf.constant(self.seed, tf.int64), 2 * step + stream])
        return tf.random.stateless_normal((batch_size, self.latent_dim), seed=seed)

    def train_step(self, real_images):
        if isinstance(real_images, tuple):  # (images, labels) from a labelled dataset
            real_images = real_images[0]
        batch_size = ops.shape(real_images)[0]

        # Discriminator: the loss's targets, plus the regularizers' terms.
        fake_images = self.generator(self.sample_noise(batch_size, 0), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            d_loss = self.gan_loss.discriminator(real_logits, fake_logits, **self.loss_settings)
            terms = self._regularizer_terms(real_images, fake_images, real_logits, fake_logits)
            d_total = d_loss + ops.sum(ops.stack(list(terms.values()))) if terms else d_loss
        grads = tape.gradient(d_total, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_variables, strict=True)
        )

        # Generator.
        with tf.GradientTape() as tape:
            fake_logits_g = self.discriminator(
                self.generator(self.sample_noise(batch_size, 1), training=True), training=True
            )
            g_loss = self.gan_loss.generator(fake_logits_g, **self.loss_settings)
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(
            zip(grads, self.generator.trainable_variables, strict=True)
        )

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_acc_real_tracker.update_state(ops.mean(ops.cast(real_logits > 0, "float32")))
        self.d_acc_fake_tracker.update_state(ops.mean(ops.cast(fake_logits < 0, "float32")))
        for name, term in terms.items():
            self.term_trackers[name].update_state(term)
        return {m.name: m.result() for m in self.metrics}

    def _regularizer_terms(self, real_images, fake_images, real_logits, fake_logits):
        if not self.regularizers:
            return {}
        batch = DiscriminatorBatch(
            self.discriminator,
            real_images,
            fake_images,
            real_logits,
            fake_logits,
            tf.cast(self.g_optimizer.iterations, tf.int64),
        )
        return {
            name: ops.cast(fn(batch, **settings), "float32")
            for name, (fn, settings) in self.regularizers.items()
        }
