"""Checkpoints: where a run's checkpoints live (its fingerprint) and Keras's backup callback."""

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

# The training settings that change the weights a run produces. Anything else (epochs unless
# the learning rate decays, logging and checkpoint intervals, XLA, determinism, generate and
# evaluate settings, ...) may change between runs that share checkpoints: raising
# training.epochs continues a finished run.
WEIGHT_SETTINGS = (
    "batch_size", "steps_per_epoch", "generator_lr", "discriminator_lr", "beta_1", "beta_2",
    "lr_schedule", "discriminator_steps", "ema_decay", "augment", "precision",
    "conditional", "mode_seeking",
)  # fmt: skip
# Raised when what a checkpoint holds changes shape, so that older checkpoints are not resumed.
CHECKPOINT_FORMAT = 3
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
    *,
    seed: int,
    data_meta: Mapping[str, Any],
    model: Mapping[str, Any],
    loss: Mapping[str, Any],
    regularizers: Mapping[str, Any],
    training: Mapping[str, Any],
) -> str:
    """An allow-list of what a checkpoint must share with a run to be resumed by it."""
    weights = {key: training[key] for key in WEIGHT_SETTINGS}
    if training["lr_schedule"] != "constant":  # the schedule spans the whole run
        weights["epochs"] = training["epochs"]
    relevant = {
        "seed": seed,
        "data": {key: data_meta.get(key) for key in DATA_IDENTITY},
        "model": dict(model),
        "loss": dict(loss),
        "regularizers": {name: dict(s) for name, s in regularizers.items()},
        "training": weights,
        "format": CHECKPOINT_FORMAT,
    }
    blob = json.dumps(relevant, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class Checkpointer(keras.callbacks.BackupAndRestore):
    """Keras's backup callback, saving every N steps *and* at every epoch end, and kept after
    training, so that a finished run can be resumed with more epochs.

    Unlike Keras's, a checkpoint is never half-written in place: the weights go to a new file
    that then replaces ``latest.weights.h5`` (a rename), and the one it replaces is kept as
    ``previous.weights.h5``. A process killed at any moment leaves a readable checkpoint, and
    one that cannot be read (a disk fault) falls back to the previous. The epoch to resume at
    follows from the step counter in the weights themselves, so a stale
    ``training_metadata.json`` cannot disagree with them."""

    def __init__(
        self,
        directory: Path,
        every_steps: int,
        before_save: Callable[[], None] | None = None,
        steps_per_epoch: int | None = None,
        writes: bool = True,
    ):
        super().__init__(str(directory), save_freq=every_steps, delete_checkpoint=False)
        self.writes = writes  # False: a multi-worker run's other workers, which restore only
        self.before_save = before_save  # may raise to keep a broken state out of the checkpoint
        self.steps_per_epoch = steps_per_epoch
        # Keras loads only files named *.weights.h5 (its own ".bkp" copy must be renamed first).
        self._prev_weights_path = str(Path(directory) / "previous.weights.h5")

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self._save_model()

    def saved_epoch(self) -> int | None:
        path = Path(self._training_metadata_path)
        return json.loads(path.read_text())["epoch"] if path.is_file() else None

    def restore(self, gan: keras.Model) -> int:
        """Load the latest checkpoint into ``gan`` now, rather than when fit() starts, and return
        the step it reached, so that the input pipeline can skip the batches already seen."""
        self.set_model(gan)
        self.on_train_begin()
        return int(gan.g_optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        self._load_model()

    def _load_model(self):
        latest, previous = Path(self._weights_path), Path(self._prev_weights_path)
        candidates = [p for p in (latest, previous) if p.is_file()]
        for path in candidates:
            try:
                self.model.load_weights(str(path))
            except Exception as e:  # h5py raises OSError, KeyError, ValueError, ... alike
                print(f"checkpoint {path} cannot be read ({type(e).__name__}); trying an older")
                continue
            step = int(self.model.g_optimizer.iterations.numpy())
            if self.steps_per_epoch:
                self.model._initial_epoch = step // self.steps_per_epoch
            elif Path(self._training_metadata_path).is_file():
                self.model._initial_epoch = self.saved_epoch()
            return
        if candidates:
            raise PipelineError(
                f"no checkpoint in {self.backup_dir} can be read "
                f"({', '.join(p.name for p in candidates)})",
                f"delete {self.backup_dir} to train from the start, or set training.resume=false",
            )

    def _estimate(self) -> int:
        """Bytes of a first checkpoint: every variable (the optimizers' included), plus a tenth."""
        sizes = (int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in self.model.variables)
        return int(1.1 * sum(sizes))

    def _save_model(self):
        if not self.writes:
            # A multi-worker run's other workers save too, to a folder then deleted: saving can
            # run collective ops that every worker must join (TensorFlow's convention).
            with tempfile.TemporaryDirectory() as scratch:
                self.model.save_weights(str(Path(scratch) / "scratch.weights.h5"))
            return
        if self.before_save is not None:
            self.before_save()
        directory = Path(self.backup_dir)
        directory.mkdir(parents=True, exist_ok=True)
        latest, previous = Path(self._weights_path), Path(self._prev_weights_path)
        incoming = directory / "incoming.weights.h5"
        check_space(directory, latest.stat().st_size if latest.exists() else self._estimate())
        self.model.save_weights(str(incoming), overwrite=True)
        with open(incoming, "rb+") as f:  # on disk before it replaces the good one
            os.fsync(f.fileno())
        if latest.exists():
            os.replace(latest, previous)  # between these two renames the previous is found
        os.replace(incoming, latest)
        write_json(
            self._training_metadata_path,
            {"epoch": self._current_epoch, "batch": self._last_batch_seen},
        )


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
