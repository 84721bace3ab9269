"""Stage `prepare`: fetch and verify a raw dataset, write it normalized to [-1, 1]."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from pipeline.cli import entrypoint
from pipeline.data.prepared import load_raw, write_prepared


def prepare(cfg: DictConfig) -> dict:
    ds = cfg.dataset
    raw_dir = Path(ds.raw_dir) if ds.raw_dir else Path(cfg.paths.raw) / ds.name
    raw = load_raw(
        ds.name,
        raw_dir,
        mirror=ds.mirror,
        download=ds.download,
        image_size=ds.image_size,
        channels=ds.channels,
        test_fraction=ds.test_fraction,
        seed=cfg.seed,
    )
    meta = write_prepared(raw, Path(cfg.paths.prepared), limit=ds.limit)
    print(
        f"prepared {meta['dataset']}: {meta['counts']['train']} train / "
        f"{meta['counts']['test']} test images of shape {tuple(meta['shape'])} "
        f"-> {cfg.paths.prepared}"
    )
    return meta


main = entrypoint(prepare)

if __name__ == "__main__":
    main()
