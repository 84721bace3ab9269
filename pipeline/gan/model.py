"""The GAN as one keras.Model with a custom train_step (the pattern of the keras.io GAN examples).

Keras 3 reads `trainable` when it traces the train function, so the old recipe of freezing the
discriminator inside a compiled combined model leaves it untrained. Here each network gets its
own optimizer and its own GradientTape, and nothing depends on `trainable` flags.

A step has phases: ``discriminator_steps`` discriminator updates, then one generator update.
Each phase hands one ``Batch`` (`pipeline.gan.batch`, the step contract) to the loss and to the
terms of its network (`pipeline.gan.regularizers`); every random draw takes its seed from the
run's ``Streams`` (`pipeline.gan.streams`). The step returns every value it tracks, and the
callbacks, CSV files, MLflow and plots take their columns from that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from pipeline.gan import ada as adaptive
from pipeline.gan.augment import AUGMENTATIONS, augment
from pipeline.gan.batch import DISCRIMINATOR, GENERATOR, Batch
from pipeline.gan.losses import GanLoss
from pipeline.gan.regularizers import Term
from pipeline.gan.replicas import per_replica, replica, replica_slice
from pipeline.gan.streams import Streams

TRACKED = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")  # every step; then terms, ADA
ADA_TRACKED = ("aug_p", "ada_rt")  # with adaptive augmentation: its p and over-fitting signal


class GAN(keras.Model):
    """``ema_decay`` > 0 keeps an exponential moving average of the generator's weights
    (``ema_generator``, what ``shipped_generator`` returns); ``discriminator_steps`` updates the
    discriminator that many times per generator step, each on its own slice of the batch it is
    given; ``augment`` names DiffAugment transforms applied to every image the discriminator
    sees; ``ada`` (`pipeline.gan.ada`) augments them with an adaptive probability;
    ``num_classes`` > 0 makes it class-conditional (networks from
    ``pipeline.gan.conditional``, batches of (images, labels), fake labels drawn uniformly)."""

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
        ada: adaptive.Ada | None = None,
        num_classes: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.discriminator_steps = int(discriminator_steps)
        self.streams = Streams(seed or 0, phases=self.discriminator_steps + 1)
        self.ema_decay = float(ema_decay)
        self.augment_names = [AUGMENTATIONS.entry(name).name for name in augment]  # checked
        self.ada = ada
        # > 0: class-conditional networks (pipeline.gan.conditional) and (images, labels) data
        self.num_classes = int(num_classes)
        # Everything with variables (the averaged generator, the trackers, ADA's and the terms'
        # states) is made in compile(), under the strategy the run trains with; the GAN itself
        # is made outside it (`pipeline.training.build.build_gan` says why).
        self.ema_generator: keras.Model | None = None
        self.ada_state: keras.Variable | None = None
        self.trackers: dict[str, keras.metrics.Mean] = {}
        self.terms: dict[str, tuple[Term, dict[str, Any]]] = {}
        self.term_states: dict[str, keras.Variable] = {}
        # Both networks are built (they start from keras.Input), so the whole is too; saying so
        # lets weights be saved and restored before the first step.
        self.built = True

    def _random_states(self) -> list[keras.Variable]:
        """The networks' random-number states (Dropout's SeedGenerator): Keras does not count
        them as weights, so `save_weights` leaves them out and a run resumed from a checkpoint
        would draw other dropout masks than one that never stopped."""
        weights = {id(v) for v in self.weights}
        return [
            v for v in self.variables
            if id(v) not in weights and v.path.endswith("seed_generator_state")
        ]  # fmt: skip

    def _own_variables(self) -> list[keras.Variable]:
        ada = [] if self.ada_state is None else [self.ada_state]
        return [*self.term_states.values(), *ada, *self._random_states()]

    def save_own_variables(self, store: Any) -> None:
        """The terms' states (LeCam's anchors, ...) and the networks' random states, so that a
        resume is bit-identical with them too."""
        for i, variable in enumerate(self._own_variables()):
            store[f"{i}"] = variable

    def load_own_variables(self, store: Any) -> None:
        own = self._own_variables()
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
        terms: Mapping[str, tuple[Term, Mapping[str, Any]]] | None = None,
        **kwargs: Any,
    ) -> None:
        """``terms``: name -> (Term, its settings), for either network; each is tracked by name
        and a term with state gets its variable here (only the terms that are on)."""
        # optimizer=None: Keras would otherwise create an unused RMSprop that ends up in every
        # checkpoint. The two optimizers below do the work.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.gan_loss = gan_loss
        self.loss_settings = dict(loss_settings or {})
        self.terms = {name: (t, dict(s)) for name, (t, s) in (terms or {}).items()}
        ada = ADA_TRACKED if self.ada is not None else ()
        clash = set(self.terms) & {*TRACKED, *ada}
        if clash:
            raise ValueError(f"term names clash with tracked values: {sorted(clash)}")
        if self.ema_decay > 0:
            self.ema_generator = keras.models.clone_model(self.generator)
            self.ema_generator.set_weights(self.generator.get_weights())
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in (*TRACKED, *self.terms, *ada)
        }
        if self.ada is not None:  # p, checkpointed with the other states (`_own_variables`)
            self.ada_state = self.add_weight(shape=(adaptive.STATE_SIZE,), initializer="zeros",
                                             trainable=False, name="ada_state", aggregation="mean")  # fmt: skip
        self.term_states = {
            name: self.add_weight(
                shape=(t.state_size,), initializer="zeros", trainable=False,
                name=f"{name}_state", aggregation="mean",
            )
            for name, (t, _) in self.terms.items() if t.state_size
        }  # fmt: skip
        # Build the optimizers now so that checkpoints restored before the first step find
        # their variables.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    @property
    def metric_names(self) -> list[str]:
        """What every step reports, in order: the columns of the training history."""
        return [m.name for m in self.metrics]

    def call(self, noise: Any, training: bool = False) -> Any:
        return self.generator(noise, training=training)

    # --- the step -------------------------------------------------------------------------------

    def train_step(self, data: Any) -> Any:
        real_images, labels = data if isinstance(data, tuple) else (data, None)
        real_images = tf.convert_to_tensor(real_images)
        if not self.num_classes:
            labels = None
        elif labels is not None:
            labels = tf.convert_to_tensor(labels, tf.int32)
        n = self.discriminator_steps
        batch_size = ops.shape(real_images)[0] // n  # the dataset hands n batches at once
        for i in range(n):  # unrolled when traced
            part = slice(i * batch_size, (i + 1) * batch_size)
            real, real_labels = real_images[part], None if labels is None else labels[part]
            d_batch, d_loss, d_terms = self._discriminator_phase(real, real_labels, i)
        # The generator's phase sees the last slice's real images, should its loss ask for them.
        g_loss, g_terms = self._generator_phase(real, real_labels, n)

        values = {
            "d_loss": d_loss, "g_loss": g_loss,
            "d_acc_real": ops.mean(ops.cast(d_batch.real_logits > 0, "float32")),
            "d_acc_fake": ops.mean(ops.cast(d_batch.fake_logits < 0, "float32")),
            **d_terms, **g_terms,
        }  # fmt: skip
        for name, value in values.items():
            self.trackers[name].update_state(value)
        if self.ada is not None:
            self._update_ada(d_batch.real_logits)
        logs = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras averages the replicas' logs over an axis 0 that scalars lack (#20585 again)
            logs = {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def _discriminator_phase(self, real_images: Any, labels: Any, phase: int) -> Any:
        """One discriminator update: the loss plus the discriminator's terms."""
        size = ops.shape(real_images)[0]
        fake_labels = self._fake_labels(size, phase)
        generated = self._generate(self._noise(size, phase), fake_labels)
        batch = self._batch(DISCRIMINATOR, phase, labels, fake_labels)
        batch.real_images = self._augmented(real_images, "augment_real", phase)
        batch.fake_images = self._augmented(generated, "augment_fake", phase)
        with tf.GradientTape() as tape:
            batch.real_logits = self._discriminate(batch.real_images, labels)
            batch.fake_logits = self._discriminate(batch.fake_images, fake_labels)
            loss = self.gan_loss.discriminator(batch, **self.loss_settings)
            terms = self._term_values(DISCRIMINATOR, batch)
            scaled = self.d_optimizer.scale_loss(per_replica(_total(loss, terms)))
        self._apply(self.d_optimizer, tape, scaled, self.discriminator)
        self._update_states(DISCRIMINATOR, batch)
        return batch, loss, terms

    def _generator_phase(self, real_images: Any, labels: Any, phase: int) -> Any:
        """One generator update: DiffAugment (when on) is differentiable, so its gradient
        reaches G; D's logits on real images are computed only if the loss or a term reads
        them (relativistic losses)."""
        with tf.GradientTape() as tape:
            size = ops.shape(real_images)[0]
            fake_labels = self._fake_labels(size, phase, paired=self._paired())
            batch = self._batch(GENERATOR, phase, labels, fake_labels)
            batch.noise = self._noise(size, phase)
            batch.generated = self._generate(batch.noise, fake_labels)
            batch.fake_images = self._augmented(batch.generated, "augment_fake", phase)
            batch.fake_logits = self._discriminate(batch.fake_images, fake_labels)

            def discriminate_real() -> Any:
                batch.real_images = self._augmented(real_images, "augment_real", phase)
                return self._discriminate(batch.real_images, labels)

            batch.discriminate_real = discriminate_real
            loss = self.gan_loss.generator(batch, **self.loss_settings)
            terms = self._term_values(GENERATOR, batch)
            # This replica's share, scaled up for mixed_float16 (the optimizer unscales it).
            scaled = self.g_optimizer.scale_loss(per_replica(_total(loss, terms)))
        self._apply(self.g_optimizer, tape, scaled, self.generator)
        self._update_states(GENERATOR, batch)
        if self.ema_generator is not None:
            self._update_ema()
        return loss, terms

    # --- the step's parts -----------------------------------------------------------------------

    def _batch(self, phase_name: str, phase: int, labels: Any, fake_labels: Any) -> Batch:
        step = tf.cast(self.g_optimizer.iterations, tf.int64)
        own_replica = replica()[0]

        def seed(purpose: str) -> Any:
            return self._seed(purpose, phase, own_replica)

        discriminator = self.discriminator
        if labels is not None:  # the penalties see D at the real images' labels

            def discriminator(images: Any, training: bool = True) -> Any:
                return self.discriminator([images, labels], training=training)

        return Batch(phase_name, labels=labels, fake_labels=fake_labels,
                     discriminator=discriminator, step=step, seed=seed)  # fmt: skip

    def _seed(self, purpose: str, phase: int, own_replica: Any = 0) -> Any:
        step = tf.cast(self.g_optimizer.iterations, tf.int64)
        return self.streams.seed_for(purpose, step, phase, own_replica)

    def _noise(self, batch_size: Any, phase: int) -> Any:
        """Noise that is a pure function of (seed, step, phase): a run resumed from a checkpoint
        (which restores the step counter) draws exactly what an uninterrupted run would. One
        draw for the global batch, sliced per replica."""
        seed = self._seed("noise", phase)
        return replica_slice(
            lambda rows: tf.random.stateless_normal((rows, self.latent_dim), seed=seed),
            batch_size,
        )

    def _fake_labels(self, batch_size: Any, phase: int, paired: bool = False) -> Any:
        """Uniform class labels for the fakes (None: unconditional); ``paired``: the second half
        repeats the first (pairs (i, half + i) share their label)."""
        if not self.num_classes:
            return None
        seed = self._seed("labels", phase)
        labels = replica_slice(
            lambda rows: tf.random.stateless_uniform(
                (rows,), seed=seed, minval=0, maxval=self.num_classes, dtype=tf.int32
            ),
            batch_size,
        )
        if paired:
            half = batch_size // 2
            labels = ops.concatenate([labels[:half], labels[: batch_size - half]])
        return labels

    def _paired(self) -> bool:
        return any(t.paired for t, _ in self.terms.values() if t.network == GENERATOR)

    def _augmented(self, images: Any, purpose: str, phase: int) -> Any:
        if not self.augment_names and self.ada is None:
            return images
        seed = self._seed(purpose, phase, replica()[0])
        if self.augment_names:
            images = augment(images, self.augment_names, seed)
        if self.ada is not None and self.ada_state is not None:
            images = self.ada.augment(images, self.ada_state[adaptive.P], seed)
        return images

    def _update_ada(self, real_logits: Any) -> None:
        """ADA's p after this step (from the last discriminator update's real logits); logged
        like every tracked value, as its mean over each logging interval."""
        assert self.ada is not None and self.ada_state is not None
        state = self.ada.update(self.ada_state, real_logits, self.g_optimizer.iterations - 1)
        self.ada_state.assign(state)
        for name, index in zip(ADA_TRACKED, (adaptive.P, adaptive.LAST_RT), strict=True):
            self.trackers[name].update_state(state[index])

    def _generate(self, noise: Any, labels: Any, training: bool = True) -> Any:
        if labels is None:
            return self.generator(noise, training=training)
        return self.generator([noise, labels], training=training)

    def _discriminate(self, images: Any, labels: Any) -> Any:
        if labels is None:
            return self.discriminator(images, training=True)
        return self.discriminator([images, labels], training=True)

    def _term_values(self, network: str, batch: Batch) -> dict[str, Any]:
        values = {}
        for name, (t, settings) in self.terms.items():
            if t.network != network:
                continue
            state = () if not t.state_size else (self.term_states[name],)
            values[name] = ops.cast(t.fn(batch, *state, **settings), "float32")
        return values

    def _update_states(self, network: str, batch: Batch) -> None:
        for name, (t, _) in self.terms.items():
            if t.network == network and t.update is not None:
                state = self.term_states[name]
                state.assign(t.update(batch, state))

    def _apply(
        self, optimizer: keras.Optimizer, tape: tf.GradientTape, loss: Any, network: keras.Model
    ) -> None:
        variables = network.trainable_variables
        grads = tape.gradient(loss, variables)
        if self.jit_compile:  # XLA cannot compile Adam's sparse update of the label embeddings
            grads = [_dense(g, v) for g, v in zip(grads, variables, strict=True)]
        optimizer.apply_gradients(zip(grads, variables, strict=True))

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


def _dense(grad: Any, variable: Any) -> Any:
    """A sparse gradient (an embedding's rows) as a dense one of the variable's static shape,
    which XLA can compile; a dense one as it is."""
    if not isinstance(grad, tf.IndexedSlices):
        return grad
    return tf.math.unsorted_segment_sum(grad.values, grad.indices, variable.shape[0])


def _total(loss: Any, terms: Mapping[str, Any]) -> Any:
    return loss + ops.sum(ops.stack(list(terms.values()))) if terms else loss
