"""Checkpoints: where a run's checkpoints live (its fingerprint) and Keras's backup callback."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras

# The training settings that change the weights a run produces. Anything else (epochs, logging
# and checkpoint intervals (but epochs with a decaying learning rate), XLA, determinism, generate/evaluate settings, ...) may change
# between runs that share checkpoints: raising training.epochs continues a finished run.
WEIGHT_SETTINGS = (
    "batch_size", "steps_per_epoch", "generator_lr", "discriminator_lr", "beta_1", "beta_2",
    "lr_schedule", "discriminator_steps", "ema_decay", "augment", "precision",
    "conditional",
)  # fmt: skip
# Raised when what a checkpoint holds changes shape, so that older checkpoints are not resumed.
CHECKPOINT_FORMAT = 2
# What identifies the prepared training data (from its meta.json).
DATA_IDENTITY = ("checksum", "shape", "counts", "limit")


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
    training, so that a finished run can be resumed with more epochs."""

    def __init__(self, directory: Path, every_steps: int):
        super().__init__(str(directory), save_freq=every_steps, delete_checkpoint=False)

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
