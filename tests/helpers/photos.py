"""Real colour pictures for metric tests: square crops of the sample photos that scikit-learn
(china.jpg, flower.jpg) and matplotlib (grace_hopper.jpg) ship, labelled by their photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHOTOS = ("china", "flower", "grace_hopper")


def photo_paths() -> list[Path]:
    import matplotlib
    import sklearn.datasets

    images = Path(sklearn.datasets.__file__).parent / "images"
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return [images / "china.jpg", images / "flower.jpg", hopper]


def photo_crops(n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 crops (96 to 160 pixels, resized to ``size``), the photos in turn, and their
    labels (0 china, 1 flower, 2 grace_hopper)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pictures = [Image.open(p).convert("RGB") for p in photo_paths()]
    images, labels = [], []
    for i in range(n):
        label = i % len(pictures)
        picture = pictures[label]
        crop = int(rng.integers(96, 161))
        x = int(rng.integers(0, picture.width - crop))
        y = int(rng.integers(0, picture.height - crop))
        tile = picture.crop((x, y, x + crop, y + crop)).resize((size, size), Image.BILINEAR)
        images.append(np.asarray(tile, dtype=np.uint8))
        labels.append(label)
    return np.stack(images), np.array(labels)
