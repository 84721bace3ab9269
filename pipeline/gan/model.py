"""The GAN as one keras.Model with a custom train_step (the pattern of the keras.io GAN examples).

Keras 3 reads `trainable` when it traces the train function, so the old recipe of freezing the
discriminator inside a compiled combined model leaves it untrained. Here each network gets its
own optimizer and its own GradientTape, and nothing depends on `trainable` flags.

The loss and the regularizers are passed in (``compile``); the step returns every value it
tracks, and the callbacks, CSV files, MLflow and plots take their columns from that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from pipeline.gan.augment import AUGMENTATIONS, augment
from pipeline.gan.losses import GanLoss
from pipeline.gan.regularizers import (
    LOGIT_EMA_DECAY,
    DiscriminatorBatch,
    Regularizer,
    mode_seeking,
)
from pipeline.gan.sampling import num_classes


def replica() -> tuple[Any, int]:
    """(this replica's index, the number of replicas): (0, 1) outside a distribution strategy
    of several devices or workers (`training.strategy`)."""
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: not inside a step
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def per_replica(loss):
    """A replica's share of a loss averaged over its part of the global batch: the optimizers
    sum the replicas' gradients, so each is divided by the number of replicas and the sum is
    the gradient of the global batch's average."""
    replicas = replica()[1]
    return loss if replicas == 1 else loss / replicas


def replica_slice(draw, batch_size):
    """This replica's ``batch_size`` rows of ``draw(rows)``, one draw for the global batch: a
    run split over replicas sees the noise and labels that one device would."""
    index, replicas = replica()
    if replicas == 1:
        return draw(batch_size)
    return draw(batch_size * replicas)[index * batch_size : (index + 1) * batch_size]


class GAN(keras.Model):
    """``ema_decay`` > 0 keeps an exponential moving average of the generator's weights
    (``ema_generator``, what ``shipped_generator`` returns); ``discriminator_steps`` updates the
    discriminator that many times per generator step, each on its own slice of the batch it is
    given; ``augment`` names DiffAugment transforms applied to every image the discriminator
    sees; ``num_classes`` > 0 makes it class-conditional (networks from
    ``pipeline.gan.conditional``, batches of (images, labels), fake labels drawn uniformly);
    ``mode_seeking`` > 0 adds MSGAN's term, so weighted, to the generator's loss (tracked as
    ``ms_loss``): the generator's batch is two halves of different noise and the same labels."""

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        seed: int | None = None,
        *,
        ema_decay: float = 0.0,
        discriminator_steps: int = 1,
        augment: Sequence[str] = (),
        num_classes: int = 0,
        mode_seeking: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed = seed or 0
        self.ema_decay = float(ema_decay)
        self.discriminator_steps = int(discriminator_steps)
        self.augment_names = [AUGMENTATIONS.entry(name).name for name in augment]  # checked
        # > 0: class-conditional networks (pipeline.gan.conditional) and (images, labels) data
        self.num_classes = int(num_classes)
        self.mode_seeking = float(mode_seeking)
        self.ema_generator: keras.Model | None = None
        if self.ema_decay > 0:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        # Moving averages of D's mean logit on real and fake images (LeCam's anchors).
        self.logit_ema = self.add_weight(
            shape=(2,), initializer="zeros", trainable=False, name="logit_ema", aggregation="mean"
        )
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_acc_real_tracker = keras.metrics.Mean(name="d_acc_real")
        self.d_acc_fake_tracker = keras.metrics.Mean(name="d_acc_fake")
        self.term_trackers: dict[str, keras.metrics.Mean] = {}
        self.ms_tracker = keras.metrics.Mean(name="ms_loss") if self.mode_seeking else None
        # Both networks are built (they start from keras.Input), so the whole is too; saying so
        # lets weights be saved and restored before the first step.
        self.built = True

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Nothing to build: the networks, trackers and optimizers are (``__init__``,
        ``compile``). Keras's own version, run by fit() under a distribution strategy, reduces
        a batch across replicas to build from, which fails under MultiWorkerMirroredStrategy
        (keras-team/keras#20585, open): without this, `training.strategy=multi_worker` could
        not train."""

    def _random_states(self) -> list[keras.Variable]:
        """The networks' random-number states (Dropout's SeedGenerator): Keras does not count
        them as weights, so `save_weights` leaves them out and a run resumed from a checkpoint
        would draw other dropout masks than one that never stopped."""
        weights = {id(v) for v in self.weights}
        return [
            v for v in self.variables
            if id(v) not in weights and v.path.endswith("seed_generator_state")
        ]  # fmt: skip

    def save_own_variables(self, store: Any) -> None:
        """The GAN's own variables (LeCam's anchors) and the networks' random states, so that a
        resume is bit-identical with Dropout too."""
        own = self._trainable_variables + self._non_trainable_variables + self._random_states()
        for i, variable in enumerate(own):
            store[f"{i}"] = variable

    def load_own_variables(self, store: Any) -> None:
        own = self._trainable_variables + self._non_trainable_variables + self._random_states()
        if len(store.keys()) != len(own):
            raise ValueError(
                f"the checkpoint holds {len(store.keys())} GAN variables, not {len(own)}"
            )
        for i, variable in enumerate(own):
            variable.assign(store[f"{i}"])

    @property
    def shipped_generator(self) -> keras.Model:
        """The generator to sample, score and ship: the moving average when it is kept."""
        return self.ema_generator if self.ema_generator is not None else self.generator

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
            *([self.ms_tracker] if self.ms_tracker is not None else []),
            *self.term_trackers.values(),
        ]

    @property
    def metric_names(self) -> list[str]:
        """What every step reports, in order: the columns of the training history."""
        return [m.name for m in self.metrics]

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def _generate(self, noise, labels, training=True):
        if labels is None:
            return self.generator(noise, training=training)
        return self.generator([noise, labels], training=training)

    def _discriminate(self, images, labels):
        if labels is None:
            return self.discriminator(images, training=True)
        return self.discriminator([images, labels], training=True)

    def _fake_labels(self, batch_size, stream: int):
        """Uniform class labels for the fakes, drawn like the noise (None: unconditional)."""
        if not self.num_classes:
            return None
        seed = self._seed(stream, self.seed + 0x1ABE1)
        return replica_slice(
            lambda rows: tf.random.stateless_uniform(
                (rows,), seed=seed, minval=0, maxval=self.num_classes, dtype=tf.int32
            ),
            batch_size,
        )

    def sample_noise(self, batch_size, stream: int):
        """Noise that is a pure function of (seed, step, stream): a run resumed from a checkpoint
        (which restores the step counter) draws exactly what an uninterrupted run would."""
        seed = self._seed(stream, self.seed)
        return replica_slice(
            lambda rows: tf.random.stateless_normal((rows, self.latent_dim), seed=seed),
            batch_size,
        )

    def _seed(self, stream: int, salt: int):
        step = tf.cast(self.g_optimizer.iterations, tf.int64)
        per_step = self.discriminator_steps + 1  # streams a step uses: D steps, then G
        return tf.stack([tf.constant(salt, tf.int64), per_step * step + stream])

    def _augmented(self, images, stream: int):
        if not self.augment_names:
            return images
        seed = self._seed(stream, self.seed + 0x5A17)
        seed += tf.cast(tf.stack([replica()[0], 0]), tf.int64) * 0x10000  # each its own draws
        return augment(images, self.augment_names, seed)

    def train_step(self, data):
        labels = None
        if isinstance(data, tuple):  # (images, labels) from a labelled dataset
            real_images = data[0]
            if self.num_classes:
                real_images = tf.convert_to_tensor(real_images)
                labels = tf.convert_to_tensor(data[1], tf.int32)
        else:
            real_images = data
        n = self.discriminator_steps
        batch_size = ops.shape(real_images)[0] // n  # the dataset hands n batches at once

        for i in range(n):  # unrolled when traced
            part = slice(i * batch_size, (i + 1) * batch_size)
            d_loss, terms, real_logits, fake_logits = self._discriminator_step(
                real_images[part], None if labels is None else labels[part], i
            )

        # Generator: DiffAugment (when on) is differentiable, so its gradient reaches G.
        with tf.GradientTape() as tape:
            fake_labels = self._fake_labels(batch_size, n)
            half = batch_size // 2
            if self.mode_seeking and fake_labels is not None:  # pairs (i, half + i) share labels
                fake_labels = ops.concatenate(
                    [fake_labels[:half], fake_labels[: batch_size - half]]
                )
            noise = self.sample_noise(batch_size, n)
            fake = self._generate(noise, fake_labels)
            fake_logits_g = self._discriminate(self._augmented(fake, 2 * n), fake_labels)
            g_loss = self.gan_loss.generator(fake_logits_g, **self.loss_settings)
            g_total = g_loss
            if self.mode_seeking:
                ms_loss = mode_seeking(
                    fake[:half], fake[half : 2 * half], noise[:half], noise[half : 2 * half]
                )
                g_total = g_loss + self.mode_seeking * ms_loss
            # This replica's share, scaled up for mixed_float16 (the optimizer unscales it).
            scaled = self.g_optimizer.scale_loss(per_replica(g_total))
        grads = tape.gradient(scaled, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(
            zip(grads, self.generator.trainable_variables, strict=True)
        )
        if self.ema_generator is not None:
            self._update_ema()

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        if self.ms_tracker is not None:
            self.ms_tracker.update_state(ms_loss)
        self.d_acc_real_tracker.update_state(ops.mean(ops.cast(real_logits > 0, "float32")))
        self.d_acc_fake_tracker.update_state(ops.mean(ops.cast(fake_logits < 0, "float32")))
        for name, term in terms.items():
            self.term_trackers[name].update_state(term)
        logs = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras averages the replicas' logs over an axis 0 that scalars lack (#20585 again)
            logs = {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def _discriminator_step(self, real_images, real_labels, i: int):
        """One discriminator update: the loss's targets plus the regularizers' terms."""
        batch_size = ops.shape(real_images)[0]
        fake_labels = self._fake_labels(batch_size, i)
        fake_images = self._generate(self.sample_noise(batch_size, i), fake_labels)
        real_images = self._augmented(real_images, 2 * i)
        fake_images = self._augmented(fake_images, 2 * i + 1)
        with tf.GradientTape() as tape:
            real_logits = self._discriminate(real_images, real_labels)
            fake_logits = self._discriminate(fake_images, fake_labels)
            d_loss = self.gan_loss.discriminator(real_logits, fake_logits, **self.loss_settings)
            terms = self._regularizer_terms(
                real_images, fake_images, real_logits, fake_logits, real_labels
            )
            d_total = d_loss + ops.sum(ops.stack(list(terms.values()))) if terms else d_loss
            scaled = self.d_optimizer.scale_loss(per_replica(d_total))
        grads = tape.gradient(scaled, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_variables, strict=True)
        )
        means = ops.stack([ops.mean(real_logits), ops.mean(fake_logits)])
        means = ops.cast(ops.stop_gradient(means), self.logit_ema.dtype)
        self.logit_ema.assign(LOGIT_EMA_DECAY * self.logit_ema + (1 - LOGIT_EMA_DECAY) * means)
        return d_loss, terms, real_logits, fake_logits

    def _update_ema(self) -> None:
        """The moving average of the generator's trainable weights, with a warm-up (the decay
        is at most (1 + t) / (10 + t) at step t), so that early averages do not hold the random
        initialisation. BatchNorm's moving statistics are copied from the trained generator
        here and recomputed for the averaged weights at the end (``recalibrate_batch_norm``)."""
        assert self.ema_generator is not None
        step = ops.cast(self.g_optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
        for average, weight in zip(
            self.ema_generator.trainable_weights, self.generator.trainable_weights, strict=True
        ):
            average.assign(decay * average + (1.0 - decay) * ops.cast(weight, average.dtype))
        for average, weight in zip(
            self.ema_generator.non_trainable_weights,
            self.generator.non_trainable_weights,
            strict=True,
        ):
            average.assign(weight)

    def _regularizer_terms(self, real_images, fake_images, real_logits, fake_logits, labels):
        if not self.regularizers:
            return {}
        discriminator = self.discriminator
        if labels is not None:  # the penalties see D at the real images' labels

            def discriminator(images, training=True):
                return self.discriminator([images, labels], training=training)

        batch = DiscriminatorBatch(
            discriminator,
            real_images,
            fake_images,
            real_logits,
            fake_logits,
            tf.cast(self.g_optimizer.iterations, tf.int64),
            self.logit_ema[0],
            self.logit_ema[1],
        )
        return {
            name: ops.cast(fn(batch, **settings), "float32")
            for name, (fn, settings) in self.regularizers.items()
        }


def recalibrate_batch_norm(
    generator: keras.Model, latent_dim: int, seed: int, batches: int = 20, batch_size: int = 256
) -> None:
    """Recompute the moving mean and variance of every BatchNormalization layer of
    ``generator`` for its current weights: the average, over ``batches`` batches of noise, of
    each layer's batch statistics. An averaged (EMA) generator's weights never produced the
    statistics its layers hold, so it is recalibrated before it is sampled for good."""
    layers = [
        layer for layer in generator._flatten_layers()
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
