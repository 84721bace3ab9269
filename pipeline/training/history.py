"""A run's interval history (the rows the monitor logged) as CSV, and its summary."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.io import atomic_path


def read_rows(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def write_rows(path: Path, rows: Sequence[dict[str, float]], columns: Sequence[str] = ()) -> None:
    """CSV with the columns of the rows themselves (or ``columns``): step first, then in the
    order logged. With no rows, the header alone, so that DVC finds the file."""
    columns = ["step", *(k for k in (columns or (rows[0] if rows else {})) if k != "step")]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows({**r, "step": int(r["step"])} for r in rows)


def resumed_rows(path: Path, start_step: int) -> list[dict[str, float]]:
    """The rows of earlier sessions up to the checkpoint a run resumed from (``path`` is written
    with every checkpoint, before its weights: rows past the step resumed from are dropped)."""
    earlier = read_rows(path) if start_step and path.is_file() else []
    return [r for r in earlier if r["step"] <= start_step]


def steady_images_per_s(rows: Sequence[dict[str, float]]) -> float | None:
    """Median throughput over the logged intervals, leaving out the first (it includes tracing)."""
    values = [r["images_per_s"] for r in rows[1:]] or [r["images_per_s"] for r in rows]
    return float(np.median(values)) if values else None


def summary(
    metric_names: Sequence[str],
    epoch_history: dict[str, list[float]],
    rows: Sequence[dict[str, float]],
    steps: int,
    seconds: float,
    probe_rows: Sequence[dict[str, float]] = (),
) -> dict[str, float]:
    """The last epoch's means (or, for a resumed finished run, the last logged interval),
    steady throughput, steps and time, and the quality probe's last scores: metrics/train.json."""
    last = {k: v[-1] for k, v in epoch_history.items() if v}
    if not last and rows:  # resumed a finished run: nothing new was trained
        last = {k: rows[-1][k] for k in metric_names}
    probe = {k: v for k, v in probe_rows[-1].items() if k != "step"} if probe_rows else {}
    return {
        **{k: float(last[k]) for k in metric_names},
        "images_per_s": steady_images_per_s(rows) or 0.0,
        "steps": float(steps),
        "train_seconds": seconds,
        **probe,
    }
