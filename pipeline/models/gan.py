"""The GAN as one keras.Model with a custom train_step (the pattern of the keras.io GAN examples).

Keras 3 reads `trainable` when it traces the train function, so the old recipe of freezing the
discriminator inside a compiled combined model leaves it untrained. Here each network gets its
own optimizer and its own GradientTape, and nothing depends on `trainable` flags.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


class GAN(keras.Model):
    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        seed: int | None = None,
        **kwargs,
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
        # Both networks are built (they start from keras.Input), so the whole is too; saying so
        # lets weights be saved and restored before the first step.
        self.built = True

    def compile(self, d_optimizer: keras.Optimizer, g_optimizer: keras.Optimizer, **kwargs):
        # optimizer=None: Keras would otherwise create an unused RMSprop that ends up in every
        # checkpoint. The two optimizers below do the work.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Build the optimizers now so that checkpoints restored before the first step find
        # their variables.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_acc_real_tracker,
            self.d_acc_fake_tracker,
        ]

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

        # Discriminator: real -> 1, fake -> 0.
        fake_images = self.generator(self.sample_noise(batch_size, 0), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            d_loss = _bce(ops.ones_like(real_logits), real_logits) + _bce(
                ops.zeros_like(fake_logits), fake_logits
            )
        grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_variables, strict=True)
        )

        # Generator: the non-saturating loss, fake -> 1.
        with tf.GradientTape() as tape:
            fake_logits_g = self.discriminator(
                self.generator(self.sample_noise(batch_size, 1), training=True), training=True
            )
            g_loss = _bce(ops.ones_like(fake_logits_g), fake_logits_g)
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(
            zip(grads, self.generator.trainable_variables, strict=True)
        )

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_acc_real_tracker.update_state(ops.mean(ops.cast(real_logits > 0, "float32")))
        self.d_acc_fake_tracker.update_state(ops.mean(ops.cast(fake_logits < 0, "float32")))
        return {m.name: m.result() for m in self.metrics}


def _bce(labels, logits):
    return ops.mean(keras.losses.binary_crossentropy(labels, logits, from_logits=True))
