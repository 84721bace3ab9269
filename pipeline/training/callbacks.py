"""The callbacks a training run is made of, beside the monitor and the checkpointer: they stop
it (divergence, signals, the step limit, a time budget) or warn (a discriminator that wins)."""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from pipeline.errors import Interrupted, PipelineError
from pipeline.training.monitor import TrainingObserver, interval_mean


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first step whose losses are not finite (NaN or infinite), before
    any later callback can checkpoint or sample the broken weights; ``check_weights`` is also
    called before every checkpoint and before the generator is handed back, since one update
    can break the weights while the loss it reports (from before the update) is still finite.
    The error names the step and the values; the last good checkpoint stays the one to resume
    from."""

    def on_train_batch_end(self, batch: Any, logs: Any = None) -> Any:
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
    compute.steps_per_execution steps), a checkpoint is written (``save``), and training ends with an ``Interrupted`` error that says how to resume.
    A second signal stops at once (KeyboardInterrupt). The previous handlers are put back when
    training ends."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, save: Callable[[], None] | None) -> None:
        super().__init__()
        self.save = save
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def on_train_begin(self, logs: Any = None) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for number in self.SIGNALS:
            if signal.getsignal(number) is not signal.SIG_IGN:  # ignored (nohup &): left so
                self._previous[number] = signal.signal(number, self._handle)

    def on_train_end(self, logs: Any = None) -> None:
        self.restore_handlers()

    def restore_handlers(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _handle(self, number: Any, frame: Any) -> Any:
        if self.requested is not None:  # the second signal: stop now
            self.restore_handlers()
            raise KeyboardInterrupt
        self.requested = number
        print(f"\n{signal.Signals(number).name}: stopping after this step (again: at once)")

    def on_train_batch_end(self, batch: Any, logs: Any = None) -> Any:
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
            "run the same command again to resume from the checkpoint (checkpoint.resume=true)",
            self.requested,
        )


class DiscriminatorWins(keras.callbacks.Callback):
    """Warns once when the discriminator has won outright for ``steps`` steps in a row: its
    accuracy on real and on fake images at least 99% at every step (the mean of each call's
    steps under compute.steps_per_execution) while the generator's loss climbs. Training goes
    on, since it may recover; observers that have ``on_warning(name, message, step)`` are told
    (MLflow: a run tag)."""

    NAME = "discriminator_wins"
    WATCHED = ("d_acc_real", "d_acc_fake", "g_loss")

    def __init__(self, steps: int, observers: Sequence[TrainingObserver]) -> None:
        super().__init__()
        self.steps, self.observers = steps, observers
        self.since: tuple[int, float] | None = None  # (step, G's loss) where the streak began
        self.warned = False
        self._running: dict[str, float] = {}
        self._batches = 0  # the epoch's batches at the last call

    def on_epoch_begin(self, epoch: Any, logs: Any = None) -> None:
        self._running = dict.fromkeys(self.WATCHED, 0.0)
        self._batches = 0

    def on_train_batch_end(self, batch: Any, logs: Any = None) -> None:
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
                "training.discriminator_lr, regularizers=[r1] or [lecam], or augment.diffaugment"
            )
            print(f"warning at step {step}: {message}")
            for observer in self.observers:
                if hasattr(observer, "on_warning"):
                    observer.on_warning(self.NAME, message, step)
            self.warned = True


class StepLimit(keras.callbacks.Callback):
    """Stops training at ``total`` generator steps. A run resumed mid-epoch starts its first
    epoch part-way (Keras restarts the epoch's count), so without this it would train the
    steps of that part twice over."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total

    def on_train_batch_end(self, batch: Any, logs: Any = None) -> None:
        if int(self.model.g_optimizer.iterations.numpy()) >= self.total:
            self.model.stop_training = True


class TimeBudget(keras.callbacks.Callback):
    """Stops training once ``seconds`` have passed (checked after every call into TensorFlow:
    one step, or compute.steps_per_execution steps)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs: Any = None) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch: Any, logs: Any = None) -> None:
        if time.perf_counter() - self._start >= self.seconds:
            self.model.stop_training = True
