"""Reporting a training run as it goes: interval means, throughput, sample grids."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import keras
import numpy as np

from pipeline.gan.sampling import sample


def passed(previous: int, step: int, every: int) -> bool:
    """Whether a multiple of ``every`` lies in (previous, step]: a schedule "every N steps" that
    holds when one call runs several steps (compute.steps_per_execution). 0: never."""
    return every > 0 and step // every > previous // every


def interval_mean(running: float, batches: int, earlier: float, earlier_batches: int) -> float:
    """The mean over an epoch's batches (earlier_batches, batches], from Keras's running means
    over the epoch at both ends."""
    return (running * batches - earlier * earlier_batches) / (batches - earlier_batches)


class TrainingObserver(Protocol):
    """Receives what a training run produces as it goes (MLflow, CSV files, ...). One may also
    have ``on_warning(name, message, step)`` (a discriminator that wins outright, ...)."""

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
    # Called with the GAN every probe_every steps and at the end; returns metrics to report
    # (a QualityProbe: KID and FID on a small sample). Its time is kept out of the throughput.
    probe: Callable[[Any], dict[str, float]] | None = None
    probe_every: int = 0
    # A resumed run's rows up to its checkpoint: they start ``rows`` and are sent to the
    # observers first, so that the new MLflow run holds the whole curve, with no gap or repeat.
    earlier: Sequence[dict[str, float]] = ()
    earlier_probes: Sequence[dict[str, float]] = ()  # the same for the quality probe's rows
    rows: list[dict[str, float]] = field(default_factory=list)
    probe_rows: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def step(self) -> int:
        return int(self.model.g_optimizer.iterations.numpy())

    def on_train_begin(self, logs: Any = None) -> None:
        self.rows[:] = self.earlier
        self.probe_rows[:] = self.earlier_probes
        for row in [*self.earlier, *self.earlier_probes]:
            for observer in self.observers:
                observer.on_metrics({k: v for k, v in row.items() if k != "step"}, int(row["step"]))
        self._clock = time.perf_counter()
        self.start_step = self.step()  # > 0 when a checkpoint was restored
        self._last_step = self.start_step
        if self.start_step == 0:
            self._emit_samples(0)

    def on_epoch_begin(self, epoch: Any, logs: Any = None) -> None:
        self._prev_batch, self._prev_means = 0, dict.fromkeys(self.model.metric_names, 0.0)
        self._batches = 0

    def on_train_batch_end(self, batch: Any, logs: Any = None) -> None:
        self._batches = batch + 1
        step = self.step()  # this call may have run several steps (steps_per_execution)
        previous, self._last_step = self._last_step, step
        if passed(previous, step, self.log_every):
            self._log_interval(batch + 1, logs, step)
        if passed(previous, step, self.sample_every):
            self._emit_samples(step)
        if passed(previous, step, self.probe_every):
            self._run_probe(step)

    def on_epoch_end(self, epoch: Any, logs: Any = None) -> None:
        # Flush the epoch's last partial interval so that every step is counted once (an epoch
        # cut short by a step limit or a time budget included).
        if self._batches > self._prev_batch:
            self._log_interval(self._batches, logs, self.step())

    def on_train_end(self, logs: Any = None) -> None:
        self._emit_samples(self.step())

    def final_probe(self) -> None:
        """Probe the finished generator (called after fit, once an averaged generator's
        BatchNorm statistics are recomputed), unless this step was just probed."""
        step = self.step()
        if self.probe_every and (not self.probe_rows or self.probe_rows[-1]["step"] != step):
            self._run_probe(step)

    def _run_probe(self, step: int) -> None:
        if self.probe is None:
            return
        start = time.perf_counter()
        values = self.probe(self.model)
        self.probe_rows.append({"step": step, **values})
        for observer in self.observers:
            observer.on_metrics(values, step)
        print(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
        self._clock += time.perf_counter() - start

    def _log_interval(self, batches_done: int, logs: Any, step: int) -> None:
        n_new = batches_done - self._prev_batch
        if n_new <= 0 or not logs:
            return
        metrics = {}
        for name in self.model.metric_names:
            running = float(logs[name])
            metrics[name] = interval_mean(
                running, batches_done, self._prev_means[name], self._prev_batch
            )
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
        images = keras.ops.convert_to_numpy(sample(self.model.shipped_generator, self.fixed_noise))
        for observer in self.observers:
            observer.on_samples(images, step)
        self._clock += time.perf_counter() - start  # keep sampling out of the throughput
