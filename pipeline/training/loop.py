"""Training a GAN on prepared arrays. Knows nothing of DVC or MLflow: it reports to observers.

Takes the config sections it needs (model, loss, regularizers, training, seed), not the whole
config, so that it can be called from a notebook or another tool as easily as from a stage.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.errors import PipelineError
from pipeline.gan.losses import LOSSES
from pipeline.gan.model import GAN
from pipeline.gan.regularizers import REGULARIZERS
from pipeline.models import build_networks
from pipeline.training.checkpoints import Checkpointer
from pipeline.training.monitor import TrainingMonitor, TrainingObserver

Settings = Mapping[str, Any]


def seed_everything(seed: int, deterministic: bool) -> None:
    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow generators
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def build_gan(
    image_shape: tuple[int, int, int],
    *,
    model: Settings,
    loss: Settings,
    regularizers: Mapping[str, Settings],
    training: Settings,
    seed: int,
) -> GAN:
    """The networks of ``model``, compiled with ``loss``, ``regularizers`` and the optimizers."""
    generator, discriminator = build_networks(model, image_shape)
    gan = GAN(generator, discriminator, model["latent_dim"], seed=seed)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(training["discriminator_lr"], beta_1=training["beta_1"]),
        g_optimizer=keras.optimizers.Adam(training["generator_lr"], beta_1=training["beta_1"]),
        gan_loss=LOSSES.get(loss["name"]),
        loss_settings={k: v for k, v in loss.items() if k != "name"},
        regularizers={
            name: (REGULARIZERS.get(name), dict(settings))
            for name, settings in regularizers.items()
        },
        jit_compile=training["jit_compile"],
    )
    return gan


def make_dataset(
    images: np.ndarray, batch_size: int, seed: int, skip_batches: int = 0
) -> tf.data.Dataset:
    """Shuffled (seeded), batched, repeated and prefetched; every batch is full.

    ``skip_batches`` continues the same sequence of batches after a resume."""
    if len(images) < batch_size:
        raise PipelineError(
            f"the training set has {len(images)} images, fewer than one batch ({batch_size})",
            "lower training.batch_size or raise dataset.limit",
        )
    return (
        tf.data.Dataset.from_tensor_slices(np.asarray(images))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .repeat()
        .skip(skip_batches)
        .prefetch(tf.data.AUTOTUNE)
    )


class TimeBudget(keras.callbacks.Callback):
    """Stops training once ``seconds`` have passed (checked after every step)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self._start >= self.seconds:
            self.model.stop_training = True


@dataclass
class TrainResult:
    gan: GAN
    history: dict[str, list[float]]  # per epoch, as Keras reports it
    rows: list[dict[str, float]]  # per logging interval
    steps: int
    start_step: int  # where this session began: > 0 when resumed from a checkpoint
    seconds: float
    fixed_noise: np.ndarray


def fixed_noise(seed: int, num_samples: int, latent_dim: int) -> np.ndarray:
    """The same noise batch for every grid of a run (and of runs with the same seed)."""
    return np.random.default_rng(seed).standard_normal((num_samples, latent_dim)).astype("float32")


def train(
    train_images: np.ndarray,
    *,
    model: Settings,
    loss: Settings,
    regularizers: Mapping[str, Settings],
    training: Settings,
    seed: int,
    observers: Sequence[TrainingObserver] = (),
    checkpoint_dir: Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainResult:
    """Train the GAN that the sections describe on ``train_images`` (NHWC float32 in [-1, 1]).
    ``callbacks`` run after the checkpointer and the monitor (a time budget, say)."""
    t = training
    seed_everything(seed, t["deterministic"])
    image_shape = (
        int(train_images.shape[1]), int(train_images.shape[2]), int(train_images.shape[3])
    )  # fmt: skip
    gan = build_gan(
        image_shape, model=model, loss=loss, regularizers=regularizers, training=t, seed=seed
    )
    all_callbacks: list[keras.callbacks.Callback] = []
    start_step = 0
    if checkpoint_dir is not None:
        checkpointer = Checkpointer(checkpoint_dir, t["checkpoint_every_steps"])
        saved_epoch = checkpointer.saved_epoch()
        if saved_epoch is not None and saved_epoch > t["epochs"]:
            # A longer run's checkpoint: resuming would train past what was asked for.
            aside = checkpoint_dir.with_name(f"{checkpoint_dir.name}.epoch{saved_epoch}")
            shutil.rmtree(aside, ignore_errors=True)
            checkpoint_dir.rename(aside)
            print(f"checkpoint at epoch {saved_epoch} > {t['epochs']} requested: kept as {aside}")
        start_step = checkpointer.restore(gan)  # weights, optimizer state and epoch counter
        all_callbacks.append(checkpointer)
    dataset = make_dataset(train_images, t["batch_size"], seed, skip_batches=start_step)
    steps_per_epoch = t["steps_per_epoch"] or len(train_images) // t["batch_size"]
    noise = fixed_noise(seed, t["num_samples"], model["latent_dim"])
    monitor = TrainingMonitor(
        observers, noise, t["batch_size"], t["log_every_steps"], t["sample_every_steps"]
    )
    all_callbacks += [monitor, *callbacks]
    start = time.perf_counter()
    history = gan.fit(
        dataset,
        epochs=t["epochs"],
        steps_per_epoch=steps_per_epoch,
        callbacks=all_callbacks,
        shuffle=False,  # the dataset shuffles itself, seeded
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return TrainResult(
        gan=gan,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        rows=monitor.rows,
        steps=int(gan.g_optimizer.iterations.numpy()),
        start_step=monitor.start_step,
        seconds=time.perf_counter() - start,
        fixed_noise=noise,
    )
