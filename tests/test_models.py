"""Networks (shapes, value range) and the custom train step (both networks actually learn)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import validate
from pipeline.models.dcgan import upsampling_steps
from pipeline.training import build_gan, make_dataset, seed_everything, train
from tests.conftest import compose_config

SHAPES = [(28, 28, 1), (32, 32, 3)]


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
@pytest.mark.parametrize("shape", SHAPES, ids=["28x28x1", "32x32x3"])
def test_generator_and_discriminator_shapes(model, shape):
    cfg = validate(compose_config([f"model={model}"]))
    gan = build_gan(cfg, shape)
    images = np.asarray(gan.generator(np.random.normal(size=(3, 100)).astype("float32")))
    assert images.shape == (3, *shape)
    assert images.min() >= -1.0 and images.max() <= 1.0  # tanh output, like the prepared data
    assert np.asarray(gan.discriminator(images)).shape == (3, 1)


def test_dcgan_discriminator_is_the_tutorials():
    cfg = validate(compose_config(["model=dcgan"]))
    d = build_gan(cfg, (32, 32, 3)).discriminator
    convs = [layer for layer in d.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [64, 128, 128, 256]
    assert [c.kernel_size for c in convs] == [(3, 3)] * 4
    assert [c.strides for c in convs] == [(1, 1)] + [(2, 2)] * 3
    assert any(layer.__class__.__name__ == "Dropout" and layer.rate == 0.4 for layer in d.layers)


def test_upsampling_steps():
    assert upsampling_steps(28) == 2 and upsampling_steps(32) == 3 and upsampling_steps(64) == 4
    with pytest.raises(ValueError):
        upsampling_steps(27)


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_train_step_updates_both_networks(model):
    """The Keras 3 pitfall: with the old recipe the discriminator silently stops learning."""
    cfg = validate(compose_config(["experiment=smoke", f"model={model}"]))
    seed_everything(0, deterministic=False)
    gan = build_gan(cfg, (28, 28, 1))
    d_before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    g_before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    real = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    logs = gan.train_step(real)
    for name in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake"):
        assert np.isfinite(float(logs[name])), name
    d_changed = [
        not np.allclose(a, b.numpy())
        for a, b in zip(d_before, gan.discriminator.trainable_weights, strict=True)
    ]
    g_changed = [
        not np.allclose(a, b.numpy())
        for a, b in zip(g_before, gan.generator.trainable_weights, strict=True)
    ]
    assert all(d_changed), "every discriminator weight must move"
    assert all(g_changed), "every generator weight must move"


def test_dataset_refuses_fewer_images_than_a_batch():
    from pipeline.errors import PipelineError

    with pytest.raises(PipelineError, match="fewer than one batch"):
        make_dataset(np.zeros((10, 28, 28, 1), "float32"), 64, 0)


def test_same_seed_same_weights(smoke_cfg):
    images = np.random.default_rng(1).uniform(-1, 1, (256, 28, 28, 1)).astype("float32")
    first = train(smoke_cfg, images)
    second = train(smoke_cfg, images)
    for a, b in zip(
        first.gan.generator.get_weights(), second.gan.generator.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert first.rows and [r["d_loss"] for r in first.rows] == [r["d_loss"] for r in second.rows]


def test_resume_continues_from_checkpoint(smoke_cfg, tmp_path):
    images = np.random.default_rng(1).uniform(-1, 1, (256, 28, 28, 1)).astype("float32")
    straight = train(smoke_cfg, images)  # 2 epochs x 4 steps in one go
    one = smoke_cfg.copy()
    one.training.epochs = 1
    train(one, images, checkpoint_dir=tmp_path / "ckpt")
    resumed = train(smoke_cfg, images, checkpoint_dir=tmp_path / "ckpt")
    assert resumed.start_step == 4 and resumed.steps == 8
    assert len(resumed.history["d_loss"]) == 1, "only the second epoch is trained again"
    for a, b in zip(
        straight.gan.generator.get_weights(), resumed.gan.generator.get_weights(), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_longer_checkpoint_is_not_resumed(smoke_cfg, tmp_path):
    images = np.random.default_rng(1).uniform(-1, 1, (256, 28, 28, 1)).astype("float32")
    train(smoke_cfg, images, checkpoint_dir=tmp_path / "ckpt")  # 2 epochs
    one = smoke_cfg.copy()
    one.training.epochs = 1
    shorter = train(one, images, checkpoint_dir=tmp_path / "ckpt")
    assert shorter.start_step == 0 and shorter.steps == 4
    assert (tmp_path / "ckpt.epoch2").is_dir(), "the longer run's checkpoint is kept aside"
