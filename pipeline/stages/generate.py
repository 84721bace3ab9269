"""Write N images from the registry's champion (or any MLflow model URI): a PNG grid, a folder
of PNGs, or an .npz, e.g. synthetic data for augmentation.

    python -m pipeline.stages.generate generate.num_images=1000 generate.format=npz
    python -m pipeline.stages.generate generate.model_uri=models:/fashion_mnist-generator/3
    python -m pipeline.stages.generate generate.label=7         # one class, by number
    python -m pipeline.stages.generate generate.label=Sneaker   # or by name
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig

from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import GenerateConfig, RegistryConfig, Section, TrackingConfig
from pipeline.data.prepared import META_FILE
from pipeline.errors import PipelineError
from pipeline.io import atomic_dir, atomic_path, read_json
from pipeline.model_registry import registered_name
from pipeline.tracking import runs as tracking
from pipeline.viz import image_grid, save_png, to_uint8

SECTIONS: dict[str, Section] = {
    "generate": GenerateConfig,
    "registry": RegistryConfig,
    "tracking": TrackingConfig,
}
DEFAULT_OUTPUTS = {
    "grid": "generated/samples.png",
    "folder": "generated/samples",
    "npz": "generated/samples.npz",
}


def champion_name(cfg: DictConfig) -> str:
    """registry.model_name, else the name register gives the prepared data's generator."""
    meta = Artifacts.from_paths(cfg.paths).prepared / META_FILE
    title = read_json(meta).get("title") if meta.is_file() else None
    return registered_name(cfg.registry.model_name, title, str(meta))


def generate(cfg: DictConfig) -> Path:
    g = cfg.generate
    uri = g.model_uri or f"models:/{champion_name(cfg)}@champion"
    output = Path(g.output or DEFAULT_OUTPUTS[g.format])
    tracking.configure(cfg.tracking)
    try:
        model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as e:
        raise PipelineError(
            f"cannot load the model {uri}: {getattr(e, 'message', e)}",
            "run `dvc repro` so that register names a champion, or set generate.model_uri",
        ) from None
    # One request may ask for at most the model's max_images; larger sets take several, each
    # with its own seed (seed, seed + 1, ...), so the same settings give the same images.
    chunk = int((model.model_config or {}).get("max_images", cfg.registry.max_images))
    chunks = []
    for i, start in enumerate(range(0, g.num_images, chunk)):
        row = {"num_images": [min(chunk, g.num_images - start)], "seed": [g.seed + i]}
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


def write_images(images: np.ndarray, output: Path, fmt: str) -> None:
    """images: NHWC float32 in [-1, 1]."""
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


main = entrypoint(generate, SECTIONS)

if __name__ == "__main__":
    main()
