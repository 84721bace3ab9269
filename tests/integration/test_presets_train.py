"""Every experiment preset (the GPU one too), every model (at 64x64 colour) and every
regularizer trains a few steps in the smoke setting, on random images of the shape its dataset
prepares: a new YAML file is covered with no edit here."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.training import loop
from pipeline.training.settings import GanSettings
from tests.helpers.configs import compose_config, image_shape, options, validate_all

SMOKE = ["training.epochs=1", "training.steps_per_epoch=2", "training.batch_size=8",
         "monitor.log_every_steps=1", "monitor.num_samples=4"]  # fmt: skip


def train_briefly(overrides: list[str]):
    cfg = validate_all(compose_config([*overrides, *SMOKE]))
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (16, *image_shape(cfg))).astype("float32")
    return loop.train(images, GanSettings.from_config(cfg), labels=rng.integers(0, 10, 16),
                      num_classes=10)  # fmt: skip


@pytest.mark.parametrize(
    "overrides",
    [[f"experiment={e}"] for e in options("experiment")]
    + [["hardware=gpu", "experiment=smoke"]]  # mixed bfloat16 and XLA, on a CPU here
    + [  # no averaged generator: its BatchNorm recalibration (5,120 images) costs ~40 s at 64 px
        [
            "experiment=smoke",
            "dataset=image_folder",
            "dataset.image_size=64",
            "training.ema_decay=0",
            f"model={m}",
        ]
        for m in options("model")
    ]
    + [["experiment=smoke", f"regularizers=[{r}]"] for r in options("regularizers")]
    + [
        [
            "experiment=smoke",
            "training.ema_decay=0.99",
            "training.discriminator_steps=2",
            "augment.diffaugment=[color,translation,cutout]",
            "training.lr_schedule=linear",
        ]
    ],
    ids=lambda o: o[-1],
)
def test_trains_in_the_smoke_setting(overrides):
    result = train_briefly(overrides)
    assert result.steps == 2
    assert all(np.isfinite(v) for row in result.rows for v in row.values())
