"""Write N images from the registry's champion (or any MLflow model URI): a PNG grid, a folder
of PNGs, or an .npz, e.g. synthetic data for augmentation.

    python -m pipeline.stages.generate generate.num_images=1000 generate.format=npz
    python -m pipeline.stages.generate generate.model_uri=models:/fashion_mnist-generator/3
    python -m pipeline.stages.generate generate.label=7         # one class, by number
    python -m pipeline.stages.generate generate.label=Sneaker   # or by name
    python -m pipeline.stages.generate generate.truncation=0.7  # nearer the typical image
    python -m pipeline.stages.generate generate.mode=classes    # a sheet, one class a row
    python -m pipeline.stages.generate generate.mode=interpolate  # latent walks: PNG and GIF
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import (
    GenerateConfig,
    RegistryConfig,
    StageConfig,
    TrackingConfig,
    section,
)
from pipeline.data.prepared import META_FILE
from pipeline.errors import PipelineError
from pipeline.explore import class_sheet_picture, save_walks, served_generator
from pipeline.io import read_json
from pipeline.model_registry import registered_name
from pipeline.tracking import runs as tracking
from pipeline.viz import save_png, write_images


@dataclass
class GenerateStageConfig(StageConfig):
    generate: GenerateConfig = section(GenerateConfig)
    registry: RegistryConfig = section(RegistryConfig)
    tracking: TrackingConfig = section(TrackingConfig)


DEFAULT_OUTPUTS = {
    "grid": "generated/samples.png",
    "folder": "generated/samples",
    "npz": "generated/samples.npz",
}


def champion_name(cfg: GenerateStageConfig) -> str:
    """registry.model_name, else the name register gives the prepared data's generator."""
    meta = Artifacts.from_paths(cfg.paths).prepared / META_FILE
    title = read_json(meta).get("title") if meta.is_file() else None
    return registered_name(cfg.registry.model_name, title, str(meta))


def generate(cfg: GenerateStageConfig) -> Path:
    g = cfg.generate
    uri = g.model_uri or f"models:/{champion_name(cfg)}@champion"
    tracking.configure(cfg.tracking)
    try:
        model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as e:
        raise PipelineError(
            f"cannot load the model {uri}: {getattr(e, 'message', e)}",
            "run `dvc repro` so that register names a champion, or set generate.model_uri",
        ) from None
    if g.mode == "interpolate":
        return interpolate(model, g, uri)
    if g.mode == "classes":
        return class_sheet(model, g, uri)
    output = Path(g.output or DEFAULT_OUTPUTS[g.format])
    # One request may ask for at most the model's max_images; larger sets take several, each
    # with its own seed (seed, seed + 1, ...), so the same settings give the same images.
    chunk = int((model.model_config or {}).get("max_images", cfg.registry.max_images))
    chunks = []
    for i, start in enumerate(range(0, g.num_images, chunk)):
        row: dict[str, list[Any]] = {
            "num_images": [min(chunk, g.num_images - start)],
            "seed": [g.seed + i],
        }
        if g.truncation != 1:
            row["truncation"] = [g.truncation]
        if g.label is not None:
            row["label"] = [g.label]
        request = pd.DataFrame(row)
        try:
            chunks.append(np.asarray(model.predict(request), dtype=np.float32))
        except MlflowException as e:
            raise PipelineError(
                f"the model refused the request: {e.message}", "check the generate.* settings"
            ) from None
    images = np.concatenate(chunks)
    write_images(images, output, g.format)
    print(f"wrote {len(images)} images from {uri} to {output}")
    return output


def interpolate(model: Any, g: GenerateConfig, uri: str) -> Path:
    """Latent walks between the seeds' noise: a labelled grid (a row a walk; a conditional
    generator walks once in each class) and a GIF that plays the walks together."""
    generator = served_generator(model, uri, "interpolate")
    seeds = list(range(g.seed, g.seed + g.walks + 1))
    classes = list((model.model_config or {}).get("class_names") or [])
    output = Path(g.output or "generated/interpolation.png")
    grid, gif = save_walks(generator, seeds, g.walk_steps, output, classes, g.truncation)
    print(f"wrote latent walks from {uri} to {grid} and {gif}")
    return grid


def class_sheet(model: Any, g: GenerateConfig, uri: str) -> Path:
    """A labelled sheet: ``num_images`` images of each class (at most 20), a row a class."""
    generator = served_generator(model, uri, "classes")
    classes = list((model.model_config or {}).get("class_names") or [])
    output = Path(g.output or "generated/classes.png")
    save_png(class_sheet_picture(generator, classes, min(g.num_images, 20), g.seed,
                                 g.truncation, uri), output)  # fmt: skip
    print(f"wrote a sheet of every class from {uri} to {output}")
    return output


SCHEMA = GenerateStageConfig
main = entrypoint(generate, SCHEMA)

if __name__ == "__main__":
    main()
