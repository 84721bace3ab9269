"""Pictures: sample grids, labelled sample sheets and training curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> [0, 255] uint8."""
    scaled = np.rint((np.asarray(images, dtype=np.float32) + 1.0) * 127.5)
    return np.asarray(np.clip(scaled, 0, 255), dtype=np.uint8)


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


def labelled_sheet(
    rows: Sequence[np.ndarray],
    labels: Sequence[str],
    title: str | None = None,
    min_tile: int = 64,
    padding: int = 2,
) -> np.ndarray:
    """Rows of NHWC images in [-1, 1], each named on its left, under an optional title: one RGB
    uint8 picture. Tiles are scaled up by a whole factor (nearest neighbour, no blur) until
    their shorter side is at least ``min_tile`` pixels, so a 28-pixel image can be seen."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = rows[0].shape[1:3]
    scale = max(1, math.ceil(min_tile / min(h, w)))
    th, tw = h * scale, w * scale
    font = ImageFont.load_default(size=max(12, min(18, th // 4)))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max((measure.textlength(str(x), font=font) for x in labels), default=0)
    left = int(label_w) + 12 if label_w else 0
    top = 28 if title else 0
    columns = max(len(r) for r in rows)
    sheet = Image.new(
        "RGB",
        (left + columns * (tw + padding) + padding, top + len(rows) * (th + padding) + padding),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((sheet.width / 2, top / 2), title, fill="black", anchor="mm", font=font)
    for r, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = top + padding + r * (th + padding)
        draw.text((6, y + th / 2), str(label), fill="black", anchor="lm", font=font)
        for c, image in enumerate(to_uint8(row)):
            tile = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
            tile = tile.convert("RGB").resize((tw, th), Image.Resampling.NEAREST)
            sheet.paste(tile, (left + padding + c * (tw + padding), y))
    return np.asarray(sheet)


def sample_sheet(
    images: np.ndarray, class_names: Sequence[str] | None = None, title: str | None = None
) -> np.ndarray:
    """Samples as a labelled sheet: for a conditional generator sampled with cycled labels
    (image i of class i mod K, as ``pipeline.gan.sampling.sample`` does), one row per class
    named after it; otherwise a square grid."""
    if class_names:
        k = len(class_names)
        rows = [images[c::k] for c in range(k) if len(images[c::k])]
        return labelled_sheet(rows, list(class_names)[: len(rows)], title)
    columns = math.ceil(math.sqrt(len(images)))
    rows = [images[i : i + columns] for i in range(0, len(images), columns)]
    return labelled_sheet(rows, [""] * len(rows), title)


def save_png(array: np.ndarray, path: Any) -> None:
    from PIL import Image

    from pipeline.io import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def subplots(*args: Any, **kwargs: Any) -> Any:
    """matplotlib's ``plt.subplots`` on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save_figure(figure: Any, path: Any) -> None:
    from pipeline.io import atomic_path

    with atomic_path(path) as tmp:
        figure.savefig(tmp)


def training_curves_figure(rows: Sequence[dict[str, float]]) -> Any:
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


def write_images(images: np.ndarray, output: Any, fmt: str) -> None:
    """images (NHWC float32 in [-1, 1]) as a PNG grid, an .npz (uint8 and float) or a folder of
    PNGs, written whole or not at all."""
    from pipeline.io import atomic_dir, atomic_path

    if fmt == "grid":
        save_png(image_grid(images), output)
    elif fmt == "npz":
        with atomic_path(output) as tmp:
            np.savez_compressed(tmp, images=to_uint8(images), images_float=images)
    else:
        from PIL import Image

        with atomic_dir(output) as tmp:
            for i, image in enumerate(to_uint8(images)):
                Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
                    tmp / f"{i:05d}.png"
                )
