"""Real fit() runs: the same seed gives the same weights, and checkpoints resume exactly."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.training import loop

IMAGES = np.random.default_rng(1).uniform(-1, 1, (256, 28, 28, 1)).astype("float32")


def train(cfg, **kwargs):
    return loop.train(
        IMAGES, model=cfg.model, loss=cfg.loss, regularizers=cfg.regularizers,
        training=cfg.training, seed=cfg.seed, **kwargs,
    )  # fmt: skip


def assert_same_weights(a, b, **tolerance):
    for x, y in zip(a.gan.generator.get_weights(), b.gan.generator.get_weights(), strict=True):
        if tolerance:
            np.testing.assert_allclose(x, y, **tolerance)
        else:
            np.testing.assert_array_equal(x, y)


def test_same_seed_same_weights(smoke_cfg):
    first, second = train(smoke_cfg), train(smoke_cfg)
    assert_same_weights(first, second)
    assert first.rows and [r["d_loss"] for r in first.rows] == [r["d_loss"] for r in second.rows]


def test_resume_continues_from_checkpoint(smoke_cfg, tmp_path):
    straight = train(smoke_cfg)  # 2 epochs x 4 steps in one go
    one = smoke_cfg.copy()
    one.training.epochs = 1
    train(one, checkpoint_dir=tmp_path / "ckpt")
    resumed = train(smoke_cfg, checkpoint_dir=tmp_path / "ckpt")
    assert resumed.start_step == 4 and resumed.steps == 8
    assert len(resumed.history["d_loss"]) == 1, "only the second epoch is trained again"
    assert_same_weights(straight, resumed, rtol=1e-5, atol=1e-6)


def test_longer_checkpoint_is_not_resumed(smoke_cfg, tmp_path):
    train(smoke_cfg, checkpoint_dir=tmp_path / "ckpt")  # 2 epochs
    one = smoke_cfg.copy()
    one.training.epochs = 1
    shorter = train(one, checkpoint_dir=tmp_path / "ckpt")
    assert shorter.start_step == 0 and shorter.steps == 4
    assert (tmp_path / "ckpt.epoch2").is_dir(), "the longer run's checkpoint is kept aside"


def test_dataset_refuses_fewer_images_than_a_batch():
    from pipeline.errors import PipelineError

    with pytest.raises(PipelineError, match="fewer than one batch"):
        loop.make_dataset(np.zeros((10, 28, 28, 1), "float32"), 64, 0)


def test_time_budget_stops_training(smoke_cfg):
    """benchmarks/quality.py trains presets for equal wall-clock budgets with it."""
    cfg = smoke_cfg.copy()
    cfg.training.epochs = 50
    result = train(cfg, callbacks=[loop.TimeBudget(0.0)])
    assert result.steps == 1, "stops after the first step once the budget is spent"
