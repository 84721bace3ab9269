"""Reporting a training run as it goes: interval means, throughput, sample grids."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import keras
import numpy as np


class TrainingObserver(Protocol):
    """Receives what a training run produces as it goes (MLflow, CSV files, ...)."""

    def on_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def on_samples(self, images: np.ndarray, step: int) -> None: ...


@dataclass
class TrainingMonitor(keras.callbacks.Callback):
    """Turns Keras's running epoch means into means over each logging interval, measures
    throughput, and renders the fixed-noise sample grid on a schedule. It reports whatever the
    train step returns: a regularizer's term becomes a column with no edit here."""

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
        self._prev_batch, self._prev_means = 0, dict.fromkeys(self.model.metric_names, 0.0)

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
        for name in self.model.metric_names:
            running = float(logs[name])
            total = running * batches_done - self._prev_means[name] * self._prev_batch
            metrics[name] = total / n_new
            self._prev_means[name] = running
        self._prev_batch = batches_done
        now = time.perf_counter()
        metrics["images_per_s"] = n_new * self.batch_size / (now - self._clock)
        self._clock = now
        self.rows.append({"step": step, **metrics})
        for observer in self.observers:
            observer.on_metrics(metrics, step)

    def _emit_samples(self, step: int) -> None:
        start = time.perf_counter()
        images = keras.ops.convert_to_numpy(self.model.generator(self.fixed_noise, training=False))
        for observer in self.observers:
            observer.on_samples(images, step)
        self._clock += time.perf_counter() - start  # keep sampling out of the throughput
