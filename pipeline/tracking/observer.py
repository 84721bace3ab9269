"""The observer that streams a training run to MLflow, and keeps training going through a
tracking server's outage."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import mlflow
import numpy as np

from pipeline.tracking.runs import ServerGone, check_server, training_metric_key
from pipeline.viz import sample_sheet


class MlflowObserver:
    """Streams interval metrics, sample grids and warnings of a training run to the active
    MLflow run. When a tracking server stops answering, training goes on: what it would have
    sent waits in memory and goes out in order once the server answers again (asked at most
    every ``retry_s`` seconds); ``flush`` waits for it at the end of training."""

    def __init__(self, retry_s: float = 5.0, class_names: list[str] | None = None) -> None:
        self.uri = mlflow.get_tracking_uri()
        self.class_names = class_names  # a conditional generator's: one row per class
        self.retry_s = retry_s
        self.pending: list[Callable[[], object]] = []  # records not yet sent, oldest first
        self.down_since: float | None = None
        self._last_try = 0.0

    def on_metrics(self, metrics: dict[str, float], step: int) -> None:
        values = {training_metric_key(k): v for k, v in metrics.items()}
        self._send(lambda: mlflow.log_metrics(values, step=step))

    def on_samples(self, images: np.ndarray, step: int) -> None:
        # Plain artifacts with readable names (samples/step_000500.png), one file each. The UI's
        # image chart (key "samples") gets only the final sheet, from the train stage: a chart
        # with one step opens on it, one with many opens on step 0, the noise.
        sheet = sample_sheet(images, self.class_names, f"step {step:,}")
        self._send(lambda: mlflow.log_image(sheet, artifact_file=f"samples/step_{step:06d}.png"))

    def on_warning(self, name: str, message: str, step: int) -> None:
        self._send(lambda: mlflow.set_tag(f"warning.{name}", f"step {step}: {message}"))

    def flush(self, wait_s: float) -> None:
        """Send what waits, waiting up to ``wait_s`` seconds for the server to answer again."""
        deadline = time.monotonic() + wait_s
        while self.pending:
            self._last_try = 0.0
            self._deliver()
            if not self.pending:
                return
            if time.monotonic() >= deadline:
                raise ServerGone(
                    f"the MLflow tracking server {self.uri} has not answered for "
                    f"{time.monotonic() - (self.down_since or deadline):.0f}s; "
                    f"{len(self.pending)} records of this run were not sent. The checkpoint of "
                    "the finished training is kept; no generator was written",
                    "start the server again and rerun the same command: it resumes from the "
                    "checkpoint and the new run records the whole history (or raise "
                    "tracking.wait_for_server_s)",
                )
            time.sleep(min(self.retry_s, max(deadline - time.monotonic(), 0.0)))

    def _send(self, send: Callable[[], object]) -> None:
        self.pending.append(send)
        self._deliver()

    def _deliver(self) -> None:
        if self.down_since is not None and time.monotonic() - self._last_try < self.retry_s:
            return
        self._last_try = time.monotonic()
        try:
            check_server(self.uri, timeout=2.0)  # seconds, not MLflow's minutes of retries
            while self.pending:
                self.pending[0]()
                self.pending.pop(0)
        except Exception as e:  # PipelineError, MlflowException, connection errors alike
            if self.down_since is None:
                self.down_since = time.monotonic()
                print(
                    f"warning: the MLflow tracking server {self.uri} does not answer "
                    f"({getattr(e, 'problem', None) or type(e).__name__}); training goes on, "
                    "and what it records waits to be sent when the server is back",
                    file=sys.stderr,
                )
            return
        if self.down_since is not None:
            print(f"the MLflow tracking server answers again after "
                  f"{time.monotonic() - self.down_since:.0f}s: every waiting record was sent")  # fmt: skip
            self.down_since = None
