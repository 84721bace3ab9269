"""Exploring a trained generator: truncated noise (fidelity for variety) and latent walks.

Light on purpose, like ``sampling``: generate, evaluate and the served model use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.gan.sampling import LABEL_EMBEDDING, latent_dim, num_classes, sample
from pipeline.viz import labelled_sheet, sample_sheet, save_png


def noise(count: int, dim: int, seed: int, truncation: float = 1.0) -> np.ndarray:
    """Seeded standard-normal noise, scaled by ``truncation`` (0 < truncation <= 1) towards the
    mean: below 1, images nearer the typical one (fidelity) at the cost of variety."""
    if not 0 < truncation <= 1:
        raise ValueError(f"truncation must be in (0, 1], got {truncation}")
    z = np.random.default_rng(seed).standard_normal((count, dim))
    return (truncation * z).astype("float32")


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation from ``a`` to ``b`` (vectors) at the fractions ``t``: the walk
    stays at the norm Gaussian noise has, where a straight line would pass through the
    low-norm middle the generator rarely saw."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = np.dot(a64, b64) / (np.linalg.norm(a64) * np.linalg.norm(b64))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    t = np.asarray(t, np.float64)[:, None]
    if omega < 1e-6:
        return ((1 - t) * a64 + t * b64).astype("float32")
    walk = (np.sin((1 - t) * omega) * a64 + np.sin(t * omega) * b64) / np.sin(omega)
    return np.asarray(walk, dtype="float32")


def latent_walks(
    generator: Any, seeds: list[int], steps: int, truncation: float = 1.0,
    class_names: Sequence[str] = (),
) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """Images along walks, ``steps`` images a walk: shape (walks, steps, H, W, C), and a name
    for each walk. An unconditional generator walks from the noise of each seed to the next
    one's. A conditional one walks between the first two seeds' noise once in each class, then
    from each class to the next at the first seed's noise, along the straight line between the
    classes' label embeddings (named after ``class_names`` when they fit)."""
    dim = latent_dim(generator)
    ends = [noise(1, dim, s, truncation)[0] for s in seeds]
    t = np.linspace(0, 1, steps)
    classes = num_classes(generator)
    if not classes:
        rows = [np.asarray(sample(generator, slerp(a, b, t))) for a, b in pairwise(ends)]
        return np.stack(rows), [f"seed {a} -> {b}" for a, b in pairwise(seeds)]
    names = list(class_names) if len(class_names) == classes else [str(k) for k in range(classes)]
    walk = slerp(ends[0], ends[1], t)
    rows = [np.asarray(sample(generator, walk, np.full(steps, k, "int32"))) for k in range(classes)]
    between = by_label_embedding(generator)
    vectors = np.asarray(generator.get_layer(LABEL_EMBEDDING)(np.arange(classes)))
    fixed = np.repeat(ends[:1], steps, axis=0)
    for k in range(classes):
        a, b = vectors[k], vectors[(k + 1) % classes]
        rows.append(np.asarray(between([fixed, (1 - t)[:, None] * a + t[:, None] * b],
                                       training=False)))  # fmt: skip
    return np.stack(rows), [*names, *(f"{n} -> {names[(k + 1) % classes]}"
                                     for k, n in enumerate(names))]  # fmt: skip


def by_label_embedding(generator: Any) -> Any:
    """The conditional generator as a model of (noise, label embedding vector): the same
    layers, entered after the label's embedding, so that a vector between two classes' can be
    drawn."""
    import keras

    embedding = generator.get_layer(LABEL_EMBEDDING).output
    return keras.Model([generator.inputs[0], embedding], generator.output)


def save_gif(frames: Sequence[np.ndarray], path: Any, milliseconds: int = 120) -> None:
    """Frames (uint8 pictures of one size) as an animated GIF that loops."""
    from PIL import Image

    from pipeline.io import atomic_path

    pictures = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=milliseconds, loop=0)  # fmt: skip


def save_walks(
    generator: Any,
    seeds: list[int],
    steps: int,
    output: Path,
    names: Sequence[str] = (),
    truncation: float = 1.0,
) -> tuple[Path, Path]:
    """The latent walks as a labelled grid (``output``, a row a walk; ``names``: a conditional
    generator's class names) and a GIF beside it that plays them together, there and back."""
    walks, rows = latent_walks(generator, seeds, steps, truncation, names)
    title = f"latent walks, {steps} steps" + (
        f", truncation {truncation:g}" if truncation < 1 else ""
    )
    save_png(labelled_sheet(list(walks), rows, title), output)
    gif = output.with_suffix(".gif")
    order = [*range(steps), *range(steps - 2, 0, -1)]  # there and back, no frame twice
    save_gif([labelled_sheet([walks[:, t]], [f"step {t + 1}/{steps}"]) for t in order], gif)
    return output, gif


def served_generator(model: Any, uri: str, mode: str) -> Any:
    """The Keras generator inside a registered pyfunc model (``unwrap_python_model``)."""
    inner = model.unwrap_python_model()
    generator = getattr(inner, "generator", None)
    if generator is None:
        raise PipelineError(
            f"{uri} is not a generator registered by this pipeline: generate.mode={mode} needs "
            "its Keras generator",
            "use generate.mode=samples, or a model registered by `dvc repro`",
        )
    return generator


def class_sheet_picture(
    generator: Any, class_names: list[str], per_class: int, seed: int, truncation: float, uri: str
) -> np.ndarray:
    """A conditional generator's labelled sheet: ``per_class`` images of each class, a row a
    class (named after ``class_names`` when they fit). ``uri`` names the model in the error an
    unconditional one gets."""
    k = num_classes(generator)
    if not k:
        raise PipelineError(
            f"{uri} is unconditional: it has no classes to lay out",
            "use generate.mode=samples or interpolate",
        )
    z = noise(per_class * k, latent_dim(generator), seed, truncation)
    images = np.asarray(sample(generator, z))  # image i: class i mod k
    names = class_names if len(class_names) == k else [str(c) for c in range(k)]
    title = "one class a row" + (f", truncation {truncation:g}" if truncation < 1 else "")
    return sample_sheet(images, names, title)
