"""Pictures: sample grids and training curves."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> [0, 255] uint8."""
    return np.clip(np.rint((np.asarray(images, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(
        np.uint8
    )


def image_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile NHWC images in [-1, 1] into one uint8 picture (H x W x C, C in {1, 3})."""
    images = to_uint8(images)
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full(
        (rows * (h + padding) + padding, columns * (w + padding) + padding, c), 255, np.uint8
    )
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = image
    return grid[..., 0] if c == 1 else grid


def save_png(array: np.ndarray, path) -> None:
    from PIL import Image

    from pipeline.io import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def subplots(*args, **kwargs):
    """matplotlib's ``plt.subplots`` on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save_figure(figure, path) -> None:
    from pipeline.io import atomic_path

    with atomic_path(path) as tmp:
        figure.savefig(tmp)


def training_curves_figure(rows: Sequence[dict[str, float]]):
    """Losses (and regularizer terms) and discriminator accuracies against the step: one
    figure with two panels, whatever columns the train step logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    columns = [k for k in rows[0] if k not in ("step", "images_per_s")]
    accuracies = [k for k in columns if k.startswith("d_acc")]
    for key in (k for k in columns if k not in accuracies):
        loss_ax.plot(steps, [r[key] for r in rows], label=key)
    loss_ax.set(xlabel="step", ylabel="loss", title="GAN losses")
    loss_ax.legend()
    for key in accuracies:
        acc_ax.plot(steps, [r[key] for r in rows], label=key)
    acc_ax.set(xlabel="step", ylabel="accuracy", title="discriminator accuracy", ylim=(0, 1))
    acc_ax.legend()
    fig.tight_layout()
    return fig
