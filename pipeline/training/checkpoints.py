"""Checkpoints: where a run's checkpoints live (its fingerprint) and the callback that writes
them atomically, on Keras's public saving API."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipeline.errors import PipelineError
from pipeline.io import write_json
from pipeline.training.monitor import passed

# Raised when what a checkpoint holds changes shape, or training draws change, so that older
# checkpoints are not resumed (4: terms' states; one allocator for the random streams).
CHECKPOINT_FORMAT = 4
# What identifies the prepared training data (from its meta.json).
DATA_IDENTITY = ("checksum", "shape", "counts", "limit")


def checkpoint_folder(root: Path, fingerprint: str, resume: bool) -> Path:
    """<root>/<fingerprint>, resumed when it exists; with resume off and a folder there, a new
    one beside it (the old one is left as it is)."""
    folder = root / fingerprint
    if not resume and folder.exists():
        folder = folder.with_name(f"{fingerprint}-{os.getpid()}")
    return folder


def checkpoint_fingerprint(
    seed: int, data_meta: Mapping[str, Any], weights: Mapping[str, Any]
) -> str:
    """An allow-list of what a checkpoint must share with a run to be resumed by it: the seed,
    the data, and ``weights``, the settings that shape the weights
    (`pipeline.training.build.GanSettings.weight_sections`: the fields of training, augment
    and compute marked so in `pipeline.config.training`, and everything of the model, loss
    and terms)."""
    relevant = {
        "seed": seed,
        "data": {key: data_meta.get(key) for key in DATA_IDENTITY},
        **weights,
        "format": CHECKPOINT_FORMAT,
    }
    blob = json.dumps(relevant, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class Checkpointer(keras.callbacks.Callback):
    """Saves the whole GAN (both networks, the averaged generator, both optimizers, the terms'
    states and the random states) every ``every_steps`` generator steps and at every epoch end,
    with Keras's public ``save_weights``; kept after training, so that a finished run can be
    resumed with more epochs.

    A checkpoint is never half-written in place: the weights go to a new file that then replaces
    ``latest.weights.h5`` (a rename), and the one it replaces is kept as ``previous.weights.h5``.
    A process killed at any moment leaves a readable checkpoint, and one that cannot be read (a
    disk fault) falls back to the previous. The step to resume at is the step counter in the
    weights themselves; ``training_metadata.json`` only says how far the run had got, for a
    glance and for refusing a longer run's checkpoint (``saved_epoch``)."""

    LATEST, PREVIOUS, INCOMING = "latest.weights.h5", "previous.weights.h5", "incoming.weights.h5"
    METADATA = "training_metadata.json"

    def __init__(
        self,
        directory: Path,
        every_steps: int,
        before_save: Callable[[], None] | None = None,
        steps_per_epoch: int | None = None,
        writes: bool = True,
    ) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.every_steps = every_steps
        self.writes = writes  # False: a multi-worker run's other workers, which restore only
        self.before_save = before_save  # may raise to keep a broken state out of the checkpoint
        self.steps_per_epoch = steps_per_epoch
        self._last_step = 0  # the step of the last save (or restore)

    def saved_epoch(self) -> int | None:
        """Epochs the checkpoint had completed (None: no checkpoint)."""
        path = self.directory / self.METADATA
        return json.loads(path.read_text())["epoch"] if path.is_file() else None

    def restore(self, gan: keras.Model) -> int:
        """Load the latest readable checkpoint into ``gan`` (before fit() starts) and return the
        step it reached (0: none), so that the input pipeline can skip the batches already seen
        and fit() can start at its epoch."""
        self.set_model(gan)
        candidates = [p for p in (self.directory / self.LATEST, self.directory / self.PREVIOUS)
                      if p.is_file()]  # fmt: skip
        for path in candidates:
            try:
                gan.load_weights(str(path))
            except Exception as e:  # h5py raises OSError, KeyError, ValueError, ... alike
                print(f"checkpoint {path} cannot be read ({type(e).__name__}); trying an older")
                continue
            self._last_step = self._step()
            return self._last_step
        if candidates:
            raise PipelineError(
                f"no checkpoint in {self.directory} can be read "
                f"({', '.join(p.name for p in candidates)})",
                f"delete {self.directory} to train from the start, or set checkpoint.resume=false",
            )
        return 0

    def on_train_batch_end(self, batch: Any, logs: Any = None) -> None:
        if passed(self._last_step, self._step(), self.every_steps):
            self.save()

    def on_epoch_end(self, epoch: Any, logs: Any = None) -> None:
        self.save()

    def _step(self) -> int:
        return int(self.model.g_optimizer.iterations.numpy())

    def _estimate(self) -> int:
        """Bytes of a first checkpoint: every variable (the optimizers' included), plus a tenth."""
        sizes = (int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in self.model.variables)
        return int(1.1 * sum(sizes))

    def save(self) -> None:
        self._last_step = step = self._step()
        if not self.writes:
            # A multi-worker run's other workers save too, to a folder then deleted: saving can
            # run collective ops that every worker must join (TensorFlow's convention).
            with tempfile.TemporaryDirectory() as scratch:
                self.model.save_weights(str(Path(scratch) / "scratch.weights.h5"))
            return
        if self.before_save is not None:
            self.before_save()
        self.directory.mkdir(parents=True, exist_ok=True)
        latest, previous = self.directory / self.LATEST, self.directory / self.PREVIOUS
        incoming = self.directory / self.INCOMING
        check_space(self.directory, latest.stat().st_size if latest.exists() else self._estimate())
        self.model.save_weights(str(incoming), overwrite=True)
        with open(incoming, "rb+") as f:  # on disk before it replaces the good one
            os.fsync(f.fileno())
        if latest.exists():
            os.replace(latest, previous)  # between these two renames the previous is found
        os.replace(incoming, latest)
        epoch = step // self.steps_per_epoch if self.steps_per_epoch else None
        write_json(self.directory / self.METADATA, {"step": step, "epoch": epoch})


def check_space(directory: Path, needed: int) -> None:
    """Refuse to start a checkpoint that the disk cannot hold: h5py, out of space part-way,
    prints errors of its own and can crash the process as it exits."""
    free = shutil.disk_usage(directory).free
    if free < needed + (1 << 20):
        raise PipelineError(
            f"no space left on the disk for a checkpoint in {directory}: about "
            f"{needed / 1e6:.1f} MB needed, {free / 1e6:.1f} MB free; the last checkpoint is kept",
            "free space on that disk (df -h), or point paths.checkpoints at another, and run "
            "again: training resumes from the last checkpoint",
        )
