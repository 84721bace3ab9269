"""The settings of each kind of dataset source: every source's schema extends
`pipeline.config.DatasetConfig` (name, raw_dir, limit, title) with the keys only it reads, so
that a key of another source is refused. Registered with the sources in pipeline.data.specs."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import DatasetConfig, setting


@dataclass
class ReleaseConfig(DatasetConfig):
    """A published release (IDX files, the CIFAR archive): its images as released, so it has
    no image_size or channels to set (models follow the data's size)."""

    # Base URL of a mirror to download from instead of the official one (same file names).
    mirror: str | None = setting()
    download: bool = setting()


@dataclass
class ImageFolderConfig(DatasetConfig):
    """Your own images: made image_size x image_size with ``channels`` channels; a non-square
    one by ``resize``: center_crop (the centred square, as StyleGAN's dataset tool), pad (the
    whole image letterboxed on pad_color) or stretch (aspect ratio lost)."""

    image_size: int = setting(ge=8)
    channels: int = setting(choices=(1, 3))
    resize: str = setting(choices=("center_crop", "pad", "stretch"))
    pad_color: list[int] = setting(ge=0, le=255)  # RGB of pad's border and of transparent pixels
    # A file that cannot be read: fail (one error naming every such file) or skip (listed in
    # metrics/prepare.json)
    on_bad_file: str = setting(choices=("fail", "skip"))
    test_fraction: float = setting(gt=0, lt=1)
    # The seeded train/test split: its own seed, so that a run's `seed` changes the training,
    # never the data it is scored on
    split_seed: int = setting(ge=0)
