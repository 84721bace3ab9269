"""Training a GAN on prepared arrays. Knows nothing of DVC or MLflow: it reports to observers.

Takes the config sections it needs (model, loss, regularizers, training, seed), not the whole
config, so that it can be called from a notebook or another tool as easily as from a stage.
"""

from __future__ import annotations

import math
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.errors import Interrupted, PipelineError
from pipeline.gan.conditional import conditional_networks
from pipeline.gan.losses import LOSSES
from pipeline.gan.model import GAN, recalibrate_batch_norm
from pipeline.gan.regularizers import REGULARIZERS
from pipeline.models import build_networks
from pipeline.training import distribute, history
from pipeline.training.checkpoints import Checkpointer
from pipeline.training.monitor import TrainingMonitor, TrainingObserver, interval_mean

Settings = Mapping[str, Any]
# Beside the checkpoints: the logged rows up to the latest one (a resumed run's curve starts so).
HISTORY_FILE = "history.csv"


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
    total_steps: int = 1,
    num_classes: int = 0,
) -> GAN:
    """The networks of ``model``, compiled with ``loss``, ``regularizers`` and the optimizers
    (whose learning rates follow ``training.lr_schedule`` over ``total_steps``); with
    ``training.conditional``, class-conditional over ``num_classes`` classes."""
    t = training
    classes = num_classes if t["conditional"] else 0
    if t["conditional"] and num_classes < 2:
        raise PipelineError(
            f"training.conditional needs a labelled dataset of 2 classes or more "
            f"(got {num_classes})",
            "set training.conditional=false, or use a dataset with class labels",
        )
    generator, discriminator = build_networks_in(t["precision"], model, image_shape, classes)
    gan = GAN(
        generator, discriminator, model["latent_dim"], seed=seed, ema_decay=t["ema_decay"],
        discriminator_steps=t["discriminator_steps"], augment=list(t["augment"]),
        num_classes=classes, mode_seeking=t["mode_seeking"],
    )  # fmt: skip

    def adam(rate: float, updates: int) -> keras.Optimizer:
        optimizer = keras.optimizers.Adam(
            learning_rate_schedule(rate, t["lr_schedule"], updates),
            beta_1=t["beta_1"], beta_2=t["beta_2"],
        )  # fmt: skip
        if t["precision"] == "mixed_float16":  # float16 gradients underflow unscaled
            return keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    gan.compile(
        # D updates discriminator_steps times a step: its schedule spans as many updates.
        d_optimizer=adam(t["discriminator_lr"], total_steps * t["discriminator_steps"]),
        g_optimizer=adam(t["generator_lr"], total_steps),
        gan_loss=LOSSES.get(loss["name"]),
        loss_settings={k: v for k, v in loss.items() if k != "name"},
        regularizers={
            name: (REGULARIZERS.get(name), dict(settings))
            for name, settings in regularizers.items()
        },
        jit_compile=training["jit_compile"],
    )
    return gan


def build_networks_in(
    precision: str, model: Settings, image_shape: tuple[int, int, int], num_classes: int = 0
) -> tuple[keras.Model, keras.Model]:
    """The model's networks (class-conditional when ``num_classes`` > 0) under a dtype policy:
    with mixed_* their layers compute in 16 bits and keep float32 weights; a final float32
    layer keeps images and logits in float32, so that the losses, the metrics and everything
    downstream see what they always see."""

    def build() -> tuple[keras.Model, keras.Model]:
        if num_classes:
            return conditional_networks(model, image_shape, num_classes)
        return build_networks(model, image_shape)

    if precision == "float32":
        return build()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        networks = build()
    finally:
        keras.config.set_dtype_policy(previous)

    def float32_output(network: keras.Model) -> keras.Model:
        output = keras.layers.Activation("linear", dtype="float32", name="float32_output")(
            network.outputs[0]
        )
        inputs = network.inputs if len(network.inputs) > 1 else network.inputs[0]
        return keras.Model(inputs, output, name=network.name)

    return float32_output(networks[0]), float32_output(networks[1])


def learning_rate_schedule(rate: float, schedule: str, total_steps: int) -> Any:
    """A constant rate, or one decaying to zero over ``total_steps`` optimizer steps."""
    if schedule == "constant":
        return rate
    if schedule == "linear":
        return keras.optimizers.schedules.PolynomialDecay(rate, max(total_steps, 1), 0.0)
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, max(total_steps, 1))
    raise PipelineError(
        f"unknown training.lr_schedule {schedule!r}", "use one of constant, linear, cosine"
    )


def make_dataset(
    images: np.ndarray,
    batch_size: int,
    seed: int,
    skip_batches: int = 0,
    labels: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Batches of ``batch_size`` rows (of (images, labels) when ``labels`` are given), every
    batch full, repeated and prefetched; each pass over the data in its own order.

    The order of pass ``k`` is a pure function of (``seed``, ``k``), not of a shuffle buffer's
    state, so every iterator of the dataset yields the same batches: a resumed run (which
    skips the ``skip_batches`` already trained on) and a run split across replicas
    (`training.strategy`, whose input pipeline makes iterators of its own) see what one
    uninterrupted run on one device sees."""
    count = len(images)
    if count < batch_size:
        raise PipelineError(
            f"the training set has {count} images, fewer than one batch ({batch_size})",
            "lower training.batch_size or raise dataset.limit",
        )

    def one_pass(number: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count), seed=tf.stack([tf.constant(seed, tf.int64), number])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)

    table = tf.constant(np.asarray(images, "float32"))
    classes = None if labels is None else tf.constant(np.asarray(labels, "int32"))

    def rows(index: tf.Tensor) -> Any:
        batch = tf.gather(table, index)
        return batch if classes is None else (batch, tf.gather(classes, index))

    options = tf.data.Options()
    # Several workers (training.strategy=multi_worker) each take their part of every batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return (
        tf.data.Dataset.counter()
        .flat_map(one_pass)
        .skip(skip_batches)  # before the rows are gathered: skipping costs next to nothing
        .map(rows)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first step whose losses are not finite (NaN or infinite), before
    any later callback can checkpoint or sample the broken weights; ``check_weights`` is also
    called before every checkpoint and before the generator is handed back, since one update
    can break the weights while the loss it reports (from before the update) is still finite.
    The error names the step and the values; the last good checkpoint stays the one to resume
    from."""

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: v for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if bad:
            raise self._diverged(", ".join(f"{k}={v}" for k, v in sorted(bad.items())))

    def check_weights(self) -> None:
        for weight in self.model.weights:
            if not np.isfinite(keras.ops.convert_to_numpy(weight)).all():
                raise self._diverged(f"{weight.path} is not finite")

    def _diverged(self, detail: str) -> PipelineError:
        step = int(self.model.g_optimizer.iterations.numpy())
        return PipelineError(
            f"training diverged at step {step}: {detail}; no generator was written and the "
            "last good checkpoint is kept",
            "lower training.generator_lr / training.discriminator_lr (or add "
            "regularizers=[r1] or model.spectral_norm=true) and train again",
        )


class GracefulStop(keras.callbacks.Callback):
    """SIGTERM or Ctrl-C (SIGINT) during training: the call under way finishes (one step, or
    training.steps_per_execution steps), a checkpoint is written (``save``), and training ends with an ``Interrupted`` error that says how to resume.
    A second signal stops at once (KeyboardInterrupt). The previous handlers are put back when
    training ends."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, save: Callable[[], None] | None):
        super().__init__()
        self.save = save
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def on_train_begin(self, logs=None):
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for number in self.SIGNALS:
            if signal.getsignal(number) is not signal.SIG_IGN:  # ignored (nohup &): left so
                self._previous[number] = signal.signal(number, self._handle)

    def on_train_end(self, logs=None):
        self.restore_handlers()

    def restore_handlers(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _handle(self, number, frame):
        if self.requested is not None:  # the second signal: stop now
            self.restore_handlers()
            raise KeyboardInterrupt
        self.requested = number
        print(f"\n{signal.Signals(number).name}: stopping after this step (again: at once)")

    def on_train_batch_end(self, batch, logs=None):
        if self.requested is None:
            return
        self.restore_handlers()
        step = int(self.model.g_optimizer.iterations.numpy())
        if self.save is not None:
            self.save()
        name = signal.Signals(self.requested).name
        raise Interrupted(
            f"stopped by {name} at step {step}; "
            + ("a checkpoint of this step is saved" if self.save else "nothing was saved"),
            "run the same command again to resume from the checkpoint (training.resume=true)",
            self.requested,
        )


class DiscriminatorWins(keras.callbacks.Callback):
    """Warns once when the discriminator has won outright for ``steps`` steps in a row: its
    accuracy on real and on fake images at least 99% at every step (the mean of each call's
    steps under training.steps_per_execution) while the generator's loss climbs. Training goes
    on, since it may recover; observers that have ``on_warning(name, message, step)`` are told
    (MLflow: a run tag)."""

    NAME = "discriminator_wins"
    WATCHED = ("d_acc_real", "d_acc_fake", "g_loss")

    def __init__(self, steps: int, observers: Sequence[TrainingObserver]):
        super().__init__()
        self.steps, self.observers = steps, observers
        self.since: tuple[int, float] | None = None  # (step, G's loss) where the streak began
        self.warned = False
        self._running: dict[str, float] = {}
        self._batches = 0  # the epoch's batches at the last call

    def on_epoch_begin(self, epoch, logs=None):
        self._running = dict.fromkeys(self.WATCHED, 0.0)
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        if self.warned or not self.steps or not set(self.WATCHED) <= set(logs or {}):
            return
        now = {k: interval_mean(float(logs[k]), batch + 1, self._running[k], self._batches)
               for k in self.WATCHED}  # fmt: skip
        self._running = {k: float(logs[k]) for k in self.WATCHED}
        self._batches = batch + 1
        step, g_loss = int(self.model.g_optimizer.iterations.numpy()), now["g_loss"]
        if min(now["d_acc_real"], now["d_acc_fake"]) < 0.99:
            self.since = None
        elif self.since is None:
            self.since = (step, g_loss)
        elif step - self.since[0] >= self.steps and g_loss > self.since[1]:
            message = (
                f"the discriminator has won outright since step {self.since[0]}: >= 99% right "
                f"on real and fake images, the generator's loss {self.since[1]:.3g} -> "
                f"{g_loss:.3g}; the generator may have stopped learning. Try a lower "
                "training.discriminator_lr, regularizers=[r1] or [lecam], or training.augment"
            )
            print(f"warning at step {step}: {message}")
            for observer in self.observers:
                if hasattr(observer, "on_warning"):
                    observer.on_warning(self.NAME, message, step)
            self.warned = True


def steps_per_execution(wanted: int, steps_per_epoch: int, start_step: int) -> int:
    """The most steps, up to ``wanted``, that one call into TensorFlow may run. Keras runs whole
    calls, so the number divides the epoch's steps and the steps a resumed run starts past an
    epoch's start: every epoch, and the run, end exactly where asked."""
    n = wanted
    while n > 1 and (steps_per_epoch % n or start_step % steps_per_epoch % n):
        n -= 1
    return n


class StepLimit(keras.callbacks.Callback):
    """Stops training at ``total`` generator steps. A run resumed mid-epoch starts its first
    epoch part-way (Keras restarts the epoch's count), so without this it would train the
    steps of that part twice over."""

    def __init__(self, total: int):
        super().__init__()
        self.total = total

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations.numpy()) >= self.total:
            self.model.stop_training = True


class TimeBudget(keras.callbacks.Callback):
    """Stops training once ``seconds`` have passed (checked after every call into TensorFlow:
    one step, or training.steps_per_execution steps)."""

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
    train_images: np.ndarray,
    *,
    train_labels: np.ndarray | None = None,
    num_classes: int = 0,
    model: Settings,
    loss: Settings,
    regularizers: Mapping[str, Settings],
    training: Settings,
    seed: int,
    observers: Sequence[TrainingObserver] = (),
    checkpoint_dir: Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    probe: Callable[[GAN], dict[str, float]] | None = None,
) -> TrainResult:
    """Train the GAN that the sections describe on ``train_images`` (NHWC float32 in [-1, 1]).
    ``callbacks`` run after the checkpointer and the monitor (a time budget, say); ``probe``
    (a QualityProbe) is called every ``training.probe_every_steps`` steps and at the end.
    Under `training.strategy` multi_worker, only the chief writes checkpoints (every worker
    restores from them)."""
    t = training
    strategy = distribute.strategy(t)
    distribute.check_batch(t, strategy.num_replicas_in_sync)
    with strategy.scope():
        return _train(
            train_images, train_labels, num_classes, model, loss, regularizers, t, seed,
            observers, checkpoint_dir, callbacks, probe,
        )  # fmt: skip


def _train(
    train_images: np.ndarray,
    train_labels: np.ndarray | None,
    num_classes: int,
    model: Settings,
    loss: Settings,
    regularizers: Mapping[str, Settings],
    t: Settings,
    seed: int,
    observers: Sequence[TrainingObserver],
    checkpoint_dir: Path | None,
    callbacks: Sequence[keras.callbacks.Callback],
    probe: Callable[[GAN], dict[str, float]] | None,
) -> TrainResult:
    seed_everything(seed, t["deterministic"])
    image_shape = (
        int(train_images.shape[1]), int(train_images.shape[2]), int(train_images.shape[3])
    )  # fmt: skip
    # Each step takes discriminator_steps batches: one per discriminator update.
    step_images = t["batch_size"] * t["discriminator_steps"]
    steps_per_epoch = t["steps_per_epoch"] or len(train_images) // step_images
    gan = build_gan(
        image_shape, model=model, loss=loss, regularizers=regularizers, training=t, seed=seed,
        total_steps=t["epochs"] * steps_per_epoch, num_classes=num_classes,
    )  # fmt: skip
    if t["conditional"] and train_labels is None:
        raise PipelineError(
            "training.conditional needs the training labels", "pass train_labels to train()"
        )
    guard = DivergenceGuard()
    guard.set_model(gan)
    noise = fixed_noise(seed, t["num_samples"], model["latent_dim"])
    monitor = TrainingMonitor(
        observers, noise, t["batch_size"], t["log_every_steps"], t["sample_every_steps"],
        probe=probe, probe_every=t["probe_every_steps"] if probe else 0,
    )  # fmt: skip
    # The guard first (before anything is saved), then the monitor (a checkpoint's history
    # includes its own step's row).
    all_callbacks: list[keras.callbacks.Callback] = [guard, monitor]
    checkpointer = None
    start_step = 0  # or where a checkpoint left off
    if checkpoint_dir is not None:
        rows_file = checkpoint_dir / HISTORY_FILE

        def before_save() -> None:  # the rows before the weights: a resume drops any extra
            guard.check_weights()
            history.write_rows(rows_file, monitor.rows)

        checkpointer = Checkpointer(
            checkpoint_dir, t["checkpoint_every_steps"], before_save=before_save,
            steps_per_epoch=steps_per_epoch, writes=distribute.is_chief(t),
        )  # fmt: skip
        saved_epoch = checkpointer.saved_epoch()
        if saved_epoch is not None and saved_epoch > t["epochs"] and checkpointer.writes:
            # A longer run's checkpoint: resuming would train past what was asked for.
            aside = checkpoint_dir.with_name(f"{checkpoint_dir.name}.epoch{saved_epoch}")
            shutil.rmtree(aside, ignore_errors=True)
            checkpoint_dir.rename(aside)
            print(f"checkpoint at epoch {saved_epoch} > {t['epochs']} requested: kept as {aside}")
        start_step = checkpointer.restore(gan)  # weights, optimizer state and epoch counter
        monitor.earlier = history.resumed_rows(rows_file, start_step)
        all_callbacks.append(checkpointer)
    gan.steps_per_execution = steps_per_execution(
        t["steps_per_execution"], steps_per_epoch, start_step
    )
    dataset = make_dataset(
        train_images, step_images, seed, skip_batches=start_step,
        labels=train_labels if t["conditional"] else None,
    )  # fmt: skip
    stop = GracefulStop(checkpointer._save_model if checkpointer is not None else None)
    all_callbacks += [
        DiscriminatorWins(t["d_wins_steps"], observers),
        StepLimit(t["epochs"] * steps_per_epoch), stop, *callbacks,
    ]  # fmt: skip
    start = time.perf_counter()
    try:
        fitted = gan.fit(
            dataset,
            epochs=t["epochs"],
            steps_per_epoch=steps_per_epoch,
            callbacks=all_callbacks,
            shuffle=False,  # the dataset shuffles itself, seeded
            verbose=1 if sys.stdout.isatty() else 2,
        )
    except distribute.WORKER_ERRORS as e:
        if t["strategy"] != "multi_worker":
            raise
        raise distribute.lost_worker(e) from None
    finally:
        stop.restore_handlers()  # the signal handlers, whatever ended training

    guard.check_weights()
    if gan.ema_generator is not None:
        recalibrate_batch_norm(gan.ema_generator, model["latent_dim"], seed)
    monitor.final_probe()
    return TrainResult(
        gan=gan,
        history={k: [float(v) for v in vs] for k, vs in fitted.history.items()},
        rows=monitor.rows,
        probe_rows=monitor.probe_rows,
        steps=int(gan.g_optimizer.iterations.numpy()),
        start_step=monitor.start_step,
        seconds=time.perf_counter() - start,
        fixed_noise=noise,
    )
