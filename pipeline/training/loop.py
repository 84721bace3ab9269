"""Training a GAN on prepared arrays. Knows nothing of DVC or MLflow: it reports to observers.

Takes one ``GanSettings`` (the config sections it needs), not the whole config, so that it can
be called from a notebook or another tool as easily as from a stage. Its parts: the GAN is built
in `build`, its batches come from `inputs`, and `callbacks`, `monitor` and `checkpoints` make
up the run around Keras's fit().
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from pipeline.errors import PipelineError
from pipeline.gan.model import GAN
from pipeline.gan.recalibrate import recalibrate_batch_norm
from pipeline.training import distribute, history
from pipeline.training.build import build_gan, resolve_conditional, seed_everything
from pipeline.training.callbacks import (
    DiscriminatorWins,
    DivergenceGuard,
    GracefulStop,
    StepLimit,
)
from pipeline.training.checkpoints import Checkpointer
from pipeline.training.inputs import make_dataset
from pipeline.training.monitor import TrainingMonitor, TrainingObserver
from pipeline.training.settings import GanSettings

# Beside the checkpoints: the logged rows and the quality probe's up to the latest one (a
# resumed run's curves start so).
HISTORY_FILE = "history.csv"
PROBE_FILE = "quality.csv"


def steps_per_execution(wanted: int, steps_per_epoch: int, start_step: int) -> int:
    """The most steps, up to ``wanted``, that one call into TensorFlow may run. Keras runs whole
    calls, so the number divides the epoch's steps and the steps a resumed run starts past an
    epoch's start: every epoch, and the run, end exactly where asked."""
    n = wanted
    while n > 1 and (steps_per_epoch % n or start_step % steps_per_epoch % n):
        n -= 1
    return n


@dataclass
class TrainResult:
    gan: GAN
    history: dict[str, list[float]]  # per epoch, as Keras reports it
    rows: list[dict[str, float]]  # per logging interval, a resumed run's earlier ones first
    probe_rows: list[dict[str, float]]  # step, probe_fid, probe_kid: the quality probe's
    steps: int
    start_step: int  # where this session began: > 0 when resumed from a checkpoint
    seconds: float
    fixed_noise: np.ndarray

    @property
    def generator(self) -> keras.Model:
        """The generator to score and ship (the moving average when training.ema_decay > 0)."""
        return self.gan.shipped_generator


def fixed_noise(seed: int, num_samples: int, latent_dim: int) -> np.ndarray:
    """The same noise batch for every grid of a run (and of runs with the same seed)."""
    return np.random.default_rng(seed).standard_normal((num_samples, latent_dim)).astype("float32")


def train(
    images: np.ndarray,
    settings: GanSettings,
    *,
    labels: np.ndarray | None = None,
    num_classes: int = 0,
    observers: Sequence[TrainingObserver] = (),
    checkpoint_dir: Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    probe: Callable[[GAN], dict[str, float]] | None = None,
) -> TrainResult:
    """Train the GAN that ``settings`` describe on ``images`` (NHWC float32 in [-1, 1]; with
    ``training.conditional``, ``labels`` of ``num_classes`` classes). ``checkpoint_dir``: resume
    from it and checkpoint to it; ``callbacks`` run after the run's own (a time budget, say);
    ``probe`` (a QualityProbe) is called every ``monitor.probe_every_steps`` steps and at the
    end. Under `compute.strategy` multi_worker, only the chief writes checkpoints (every
    worker restores from them)."""
    if settings.training.conditional == "auto":  # a caller that did not resolve it (a stage does)
        training = dataclasses.replace(
            settings.training, conditional=resolve_conditional("auto", num_classes)
        )
        settings = dataclasses.replace(settings, training=training)
    t, compute, m = settings.training, settings.compute, settings.monitor
    strategy = distribute.strategy(compute)
    distribute.check_batch(t.batch_size, strategy.num_replicas_in_sync)
    if t.conditional and labels is None:
        raise PipelineError("training.conditional needs the training labels", "pass labels=")
    step_images = t.batch_size * t.discriminator_steps  # one batch per D update
    steps_per_epoch = t.steps_per_epoch or len(images) // step_images
    total_steps = t.epochs * steps_per_epoch
    if compute.jit_compile and compute.deterministic:
        print("XLA stays off: compute.deterministic=true wins over compute.jit_compile=true "
              "(set compute.deterministic=false for XLA, at the cost of bit-for-bit repeats)")  # fmt: skip
    seed_everything(settings.seed, compute.deterministic)
    gan = build_gan(images.shape[1:], settings, total_steps, num_classes, strategy)
    with strategy.scope():
        guard = DivergenceGuard()
        guard.set_model(gan)
        noise = fixed_noise(settings.seed, m.num_samples, settings.model.latent_dim)
        monitor = TrainingMonitor(
            observers, noise, t.batch_size, m.log_every_steps, m.sample_every_steps,
            probe=probe, probe_every=m.probe_every_steps if probe else 0,
        )  # fmt: skip
        checkpointer = None
        if checkpoint_dir is not None:
            checkpointer = open_checkpoints(
                checkpoint_dir, settings, steps_per_epoch, guard, monitor
            )
        start_step = checkpointer.restore(gan) if checkpointer else 0
        if checkpointer:
            monitor.earlier = history.resumed_rows(
                checkpointer.directory / HISTORY_FILE, start_step
            )
            monitor.earlier_probes = history.resumed_rows(
                checkpointer.directory / PROBE_FILE, start_step
            )
        gan.steps_per_execution = steps_per_execution(
            compute.steps_per_execution, steps_per_epoch, start_step
        )
        dataset = make_dataset(images, step_images, settings.seed, skip_batches=start_step,
                               labels=labels if t.conditional else None)  # fmt: skip
        stop = GracefulStop(checkpointer.save if checkpointer else None)
        # The guard first (before anything is saved), then the monitor (a checkpoint's history
        # includes its own step's row), then the checkpointer.
        run_callbacks = [guard, monitor, *([checkpointer] if checkpointer else []),
                         DiscriminatorWins(m.d_wins_steps, observers), StepLimit(total_steps),
                         stop, *callbacks]  # fmt: skip
        start = time.perf_counter()
        try:
            fitted = gan.fit(
                dataset, epochs=t.epochs, initial_epoch=start_step // steps_per_epoch,
                steps_per_epoch=steps_per_epoch, callbacks=run_callbacks,
                shuffle=False,  # the dataset shuffles itself, seeded
                verbose=1 if sys.stdout.isatty() else 2,
            )  # fmt: skip
        except distribute.WORKER_ERRORS as e:
            if compute.strategy != "multi_worker":
                raise
            raise distribute.lost_worker(e) from None
        finally:
            stop.restore_handlers()  # the signal handlers, whatever ended training
        guard.check_weights()
        if gan.ema_generator is not None:
            recalibrate_batch_norm(gan.ema_generator, settings.model.latent_dim, settings.seed)
        monitor.final_probe()
    return TrainResult(
        gan=gan, history={k: [float(v) for v in vs] for k, vs in fitted.history.items()},
        rows=monitor.rows, probe_rows=monitor.probe_rows,
        steps=int(gan.g_optimizer.iterations.numpy()), start_step=monitor.start_step,
        seconds=time.perf_counter() - start, fixed_noise=noise,
    )  # fmt: skip


def open_checkpoints(
    directory: Path,
    settings: GanSettings,
    steps_per_epoch: int,
    guard: DivergenceGuard,
    monitor: TrainingMonitor,
) -> Checkpointer:
    """The run's checkpointer, writing the monitor's rows beside each checkpoint (after the guard
    has checked the weights). A longer run's checkpoint is moved aside rather than resumed:
    resuming it would train past what was asked for."""

    def before_save() -> None:  # the rows before the weights: a resume drops any extra
        guard.check_weights()
        history.write_rows(directory / HISTORY_FILE, monitor.rows)
        history.write_rows(directory / PROBE_FILE, monitor.probe_rows)

    checkpointer = Checkpointer(
        directory, settings.checkpoint.every_steps, before_save=before_save,
        steps_per_epoch=steps_per_epoch, writes=distribute.is_chief(settings.compute),
    )  # fmt: skip
    epochs = settings.training.epochs
    saved_epoch = checkpointer.saved_epoch()
    if saved_epoch is not None and saved_epoch > epochs and checkpointer.writes:
        aside = directory.with_name(f"{directory.name}.epoch{saved_epoch}")
        shutil.rmtree(aside, ignore_errors=True)
        directory.rename(aside)
        print(f"checkpoint at epoch {saved_epoch} > {epochs} requested: kept as {aside}")
    return checkpointer
