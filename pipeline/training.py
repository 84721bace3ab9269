"""Training a GAN on prepared arrays. Knows nothing of DVC or MLflow: it reports to observers."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import keras
import numpy as np
import tensorflow as tf
from omegaconf import DictConfig, OmegaConf

from pipeline.errors import PipelineError
from pipeline.models import GAN, build_networks

METRIC_NAMES = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")


class TrainingObserver(Protocol):
    """Receives what a training run produces as it goes (MLflow, CSV files, ...)."""

    def on_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def on_samples(self, images: np.ndarray, step: int) -> None: ...


def seed_everything(seed: int, deterministic: bool) -> None:
    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow generators
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def build_gan(cfg: DictConfig, image_shape: tuple[int, int, int]) -> GAN:
    generator, discriminator = build_networks(cfg.model, image_shape)
    gan = GAN(generator, discriminator, cfg.model.latent_dim, seed=cfg.seed)
    t = cfg.training
    gan.compile(
        d_optimizer=keras.optimizers.Adam(t.discriminator_lr, beta_1=t.beta_1),
        g_optimizer=keras.optimizers.Adam(t.generator_lr, beta_1=t.beta_1),
        jit_compile=t.jit_compile,
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


def checkpoint_fingerprint(cfg: DictConfig, data_checksum: str) -> str:
    """What a checkpoint must share with a run to be resumed by it: all but the epoch count
    and the logging settings, so raising training.epochs continues where the last run stopped."""
    relevant = OmegaConf.to_container(cfg, resolve=True)
    relevant.pop("tracking", None)
    relevant.pop("paths", None)
    relevant.pop("evaluation", None)
    relevant.pop("registry", None)
    for key in (
        "epochs",
        "resume",
        "log_every_steps",
        "sample_every_steps",
        "checkpoint_every_steps",
    ):
        relevant["training"].pop(key, None)
    relevant["data_checksum"] = data_checksum
    blob = json.dumps(relevant, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class Checkpointer(keras.callbacks.BackupAndRestore):
    """Keras's backup callback, saving every N steps *and* at every epoch end, and kept after
    training, so that a finished run can be resumed with more epochs."""

    def __init__(self, directory: Path, every_steps: int):
        super().__init__(str(directory), save_freq=every_steps, delete_checkpoint=False)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self._save_model()

    def saved_epoch(self) -> int | None:
        path = Path(self._training_metadata_path)
        return json.loads(path.read_text())["epoch"] if path.is_file() else None

    def restore(self, gan: GAN) -> int:
        """Load the latest checkpoint into ``gan`` now, rather than when fit() starts, and return
        the step it reached, so that the input pipeline can skip the batches already seen."""
        self.set_model(gan)
        self.on_train_begin()
        return int(gan.g_optimizer.iterations.numpy())


@dataclass
class TrainingMonitor(keras.callbacks.Callback):
    """Turns Keras's running epoch means into means over each logging interval, measures
    throughput, and renders the fixed-noise sample grid on a schedule."""

    observers: Sequence[TrainingObserver]
    fixed_noise: np.ndarray
    batch_size: int
    log_every: int
    sample_every: int
    rows: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self):
        super().__init__()

    def step(self) -> int:
        return int(self.model.g_optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        self.rows.clear()
        self._clock = time.perf_counter()
        self.start_step = self.step()  # > 0 when a checkpoint was restored
        if self.start_step == 0:
            self._emit_samples(0)

    def on_epoch_begin(self, epoch, logs=None):
        self._prev_batch, self._prev_means = 0, dict.fromkeys(METRIC_NAMES, 0.0)

    def on_train_batch_end(self, batch, logs=None):
        step = self.step()
        if step % self.log_every == 0:
            self._log_interval(batch + 1, logs, step)
        if step % self.sample_every == 0:
            self._emit_samples(step)

    def on_epoch_end(self, epoch, logs=None):
        # Flush the epoch's last partial interval so that every step is counted once.
        batches = self.params.get("steps") or 0
        if batches > self._prev_batch:
            self._log_interval(batches, logs, self.step())

    def on_train_end(self, logs=None):
        self._emit_samples(self.step())

    def _log_interval(self, batches_done: int, logs, step: int) -> None:
        n_new = batches_done - self._prev_batch
        if n_new <= 0 or not logs:
            return
        metrics = {}
        for name in METRIC_NAMES:
            running = float(logs[name])
            total = running * batches_done - self._prev_means[name] * self._prev_batch
            metrics[name] = total / n_new
            self._prev_means[name] = running
        self._prev_batch = batches_done
        now = time.perf_counter()
        images_per_s = n_new * self.batch_size / (now - self._clock)
        metrics["images_per_s"] = images_per_s
        self._clock = now
        self.rows.append({"step": step, **metrics})
        for observer in self.observers:
            observer.on_metrics(metrics, step)

    def _emit_samples(self, step: int) -> None:
        start = time.perf_counter()
        images = self.model.generator(self.fixed_noise, training=False)
        images = keras.ops.convert_to_numpy(images)
        for observer in self.observers:
            observer.on_samples(images, step)
        self._clock += time.perf_counter() - start  # keep sampling out of the throughput


@dataclass
class TrainResult:
    gan: GAN
    history: dict[str, list[float]]  # per epoch, as Keras reports it
    rows: list[dict[str, float]]  # per logging interval
    steps: int
    start_step: int  # where this session began: > 0 when resumed from a checkpoint
    seconds: float
    fixed_noise: np.ndarray


def steady_images_per_s(rows: Sequence[dict[str, float]]) -> float | None:
    """Median throughput over the logged intervals, leaving out the first (it includes tracing)."""
    values = [r["images_per_s"] for r in rows[1:]] or [r["images_per_s"] for r in rows]
    return float(np.median(values)) if values else None


def fixed_noise(seed: int, num_samples: int, latent_dim: int) -> np.ndarray:
    """The same noise batch for every grid of a run (and of runs with the same seed)."""
    return np.random.default_rng(seed).standard_normal((num_samples, latent_dim)).astype("float32")


def train(
    cfg: DictConfig,
    train_images: np.ndarray,
    observers: Sequence[TrainingObserver] = (),
    checkpoint_dir: Path | None = None,
) -> TrainResult:
    """Train the configured GAN on ``train_images`` (NHWC float32 in [-1, 1])."""
    t = cfg.training
    seed_everything(cfg.seed, t.deterministic)
    image_shape = tuple(int(d) for d in train_images.shape[1:])
    gan = build_gan(cfg, image_shape)
    callbacks: list[keras.callbacks.Callback] = []
    start_step = 0
    if checkpoint_dir is not None:
        checkpointer = Checkpointer(checkpoint_dir, t.checkpoint_every_steps)
        saved_epoch = checkpointer.saved_epoch()
        if saved_epoch is not None and saved_epoch > t.epochs:
            # A longer run's checkpoint: resuming would train past what was asked for.
            aside = checkpoint_dir.with_name(f"{checkpoint_dir.name}.epoch{saved_epoch}")
            shutil.rmtree(aside, ignore_errors=True)
            checkpoint_dir.rename(aside)
            print(f"checkpoint at epoch {saved_epoch} > {t.epochs} requested: kept as {aside}")
        start_step = checkpointer.restore(gan)  # weights, optimizer state and epoch counter
        callbacks.append(checkpointer)
    dataset = make_dataset(train_images, t.batch_size, cfg.seed, skip_batches=start_step)
    steps_per_epoch = t.steps_per_epoch or len(train_images) // t.batch_size
    noise = fixed_noise(cfg.seed, t.num_samples, cfg.model.latent_dim)
    monitor = TrainingMonitor(
        observers, noise, t.batch_size, t.log_every_steps, t.sample_every_steps
    )
    callbacks.append(monitor)
    start = time.perf_counter()
    history = gan.fit(
        dataset,
        epochs=t.epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
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
