"""Real fit() runs: the same seed gives the same weights, and checkpoints resume exactly."""

from __future__ import annotations

import keras
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


class StopAfterEpoch(keras.callbacks.Callback):
    """Stops fit() at the end of the first epoch, after the checkpoint is written."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def test_resume_is_exact_with_every_stateful_technique(smoke_cfg, tmp_path):
    """The averaged generator, LeCam's anchors, critic steps, DiffAugment's draws and a decaying
    learning rate all continue from a checkpoint as if training had not stopped (here stopped
    after its first epoch, as a killed run would be)."""
    cfg = smoke_cfg.copy()
    cfg.training.ema_decay = 0.9
    cfg.training.discriminator_steps = 2
    cfg.training.augment = ["color", "translation", "cutout"]
    cfg.training.lr_schedule = "cosine"
    cfg.training.batch_size = 32  # 256 images: 4 steps of 2 x 32
    cfg.regularizers = {"lecam": {"weight": 0.3}}
    straight = train(cfg)
    interrupted = train(cfg, checkpoint_dir=tmp_path / "ckpt", callbacks=[StopAfterEpoch()])
    assert interrupted.steps == 4
    resumed = train(cfg, checkpoint_dir=tmp_path / "ckpt")
    assert resumed.start_step == 4 and resumed.steps == 8
    for a, b in zip(straight.generator.get_weights(), resumed.generator.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(straight.gan.logit_ema.numpy(), resumed.gan.logit_ema.numpy(),
                               rtol=1e-5)  # fmt: skip


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


class Recorder:
    def __init__(self):
        self.metrics: list[tuple[int, dict]] = []

    def on_metrics(self, metrics, step):
        self.metrics.append((step, dict(metrics)))

    def on_samples(self, images, step):
        pass


def pixel_features(images):
    """A real, if crude, feature space: 4x4 average-pooled pixels."""
    x = np.asarray(images, "float64").reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4))
    return x.reshape(len(images), -1), np.ones((len(images), 1))


def test_quality_probe_reports_kid_and_fid_on_schedule_and_at_the_end(smoke_cfg):
    from pipeline.training.probe import QualityProbe

    cfg = smoke_cfg.copy()
    cfg.training.probe_every_steps = 3  # 8 steps: probed at 3 and 6, then at the end (8)
    recorder = Recorder()
    probe = QualityProbe(pixel_features, IMAGES[:100], seed=0)
    result = train(cfg, observers=[recorder], probe=probe)
    assert [row["step"] for row in result.probe_rows] == [3, 6, 8]
    reported = [(s, m) for s, m in recorder.metrics if "probe_fid" in m]
    assert [s for s, _ in reported] == [3, 6, 8]
    assert all(m["probe_fid"] > 0 and np.isfinite(m["probe_kid"]) for _, m in reported)


def test_quality_probe_scores_real_images_near_zero():
    from pipeline.training.probe import QualityProbe

    class Copier:  # a "generator" that returns real images: the probe must score it ~0
        latent_dim = 4
        inputs = (None,)  # one input: unconditional

        def __init__(self, images):
            self.images = images
            self.shipped_generator = self

        def __call__(self, noise, training=False):
            return self.images[: len(noise)]

    same = QualityProbe(pixel_features, IMAGES[:128], seed=0)(Copier(IMAGES[:128]))
    other = QualityProbe(pixel_features, IMAGES[:128], seed=0)(Copier(0.2 * IMAGES[128:]))
    assert same["probe_fid"] < 1e-6 and other["probe_fid"] > same["probe_fid"]


def test_a_toy_conditional_gan_learns_its_labels():
    """Two classes that differ only in brightness (dark -0.8, bright +0.8, with noise): after
    a short training, each label's samples are on its side."""
    from tests.helpers.configs import compose_config, validate_all

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 256).astype("int32")
    images = np.where(labels[:, None, None, None] == 0, -0.8, 0.8) + rng.normal(
        0, 0.05, (512, 28, 28, 1)
    )
    cfg = validate_all(compose_config([
        "experiment=smoke", "training.conditional=true", "training.epochs=1",
        "training.steps_per_epoch=300", "training.batch_size=32", "training.generator_lr=1e-3",
        "training.discriminator_lr=1e-3",
    ]))  # fmt: skip
    result = loop.train(
        np.clip(images, -1, 1).astype("float32"), train_labels=labels, num_classes=2,
        model=cfg.model, loss=cfg.loss, regularizers=cfg.regularizers, training=cfg.training,
        seed=0,
    )  # fmt: skip
    from pipeline.gan.sampling import sample

    noise = rng.standard_normal((200, cfg.model.latent_dim)).astype("float32")
    dark = np.asarray(sample(result.generator, noise, np.zeros(200, "int32"))).mean(axis=(1, 2, 3))
    bright = np.asarray(sample(result.generator, noise, np.ones(200, "int32"))).mean(axis=(1, 2, 3))
    assert (dark < 0).mean() > 0.9 and (bright > 0).mean() > 0.9, (dark.mean(), bright.mean())
