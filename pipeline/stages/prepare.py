"""Stage `prepare`: fetch and verify a raw dataset, write it normalized to [-1, 1]."""

from __future__ import annotations

from omegaconf import DictConfig

from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import Choice, DatasetConfig, Section
from pipeline.data.prepared import write_prepared
from pipeline.data.specs import DATASETS, load_raw

SECTIONS: dict[str, Section] = {"dataset": Choice(DATASETS, DatasetConfig)}


def prepare(cfg: DictConfig) -> dict:
    out = Artifacts.from_paths(cfg.paths)
    raw = load_raw(cfg.dataset, cfg.paths.raw, cfg.seed)
    meta = write_prepared(raw, out.prepared, limit=cfg.dataset.limit)
    print(
        f"prepared {meta['dataset']}: {meta['counts']['train']} train / "
        f"{meta['counts']['test']} test images of shape {tuple(meta['shape'])} -> {out.prepared}"
    )
    return meta


main = entrypoint(prepare, SECTIONS)

if __name__ == "__main__":
    main()
