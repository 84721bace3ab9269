"""The custom train step: both networks learn, for every model and every loss; regularizer
terms are added and reported under their own names."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.training.loop import build_gan, seed_everything
from tests.helpers.configs import compose_config, options, validate_all

REAL = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")


def gan_for(overrides: list[str]):
    cfg = validate_all(compose_config(["experiment=smoke", *overrides]))
    seed_everything(0, deterministic=False)
    return build_gan(
        (28, 28, 1), model=cfg.model, loss=cfg.loss, regularizers=cfg.regularizers,
        training=cfg.training, seed=0,
    )  # fmt: skip


def moved(before, variables) -> list[bool]:
    return [not np.allclose(a, b.numpy()) for a, b in zip(before, variables, strict=True)]


def kernels(model) -> list:
    return [w for w in model.trainable_weights if w.path.endswith("kernel")]


@pytest.mark.parametrize("model", options("model"))
def test_train_step_updates_both_networks(model):
    """The Keras 3 pitfall: with the old recipe the discriminator silently stops learning."""
    gan = gan_for([f"model={model}"])
    d_before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    g_before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    logs = gan.train_step(REAL)
    assert list(logs) == gan.metric_names == ["d_loss", "g_loss", "d_acc_real", "d_acc_fake"]
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(moved(d_before, gan.discriminator.trainable_weights)), "every D weight moves"
    assert all(moved(g_before, gan.generator.trainable_weights)), "every G weight moves"


@pytest.mark.parametrize("loss", options("loss"))
def test_every_loss_trains_both_networks(loss):
    """(Every kernel: with the hinge loss the last bias can have an exact zero gradient.)"""
    gan = gan_for([f"loss={loss}"])
    d_before = [w.numpy().copy() for w in kernels(gan.discriminator)]
    g_before = [w.numpy().copy() for w in kernels(gan.generator)]
    logs = gan.train_step(REAL)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(moved(d_before, kernels(gan.discriminator)))
    assert all(moved(g_before, kernels(gan.generator)))


@pytest.mark.parametrize("regularizer", options("regularizers"))
def test_regularizer_terms_are_reported_by_name(regularizer):
    gan = gan_for([f"regularizers=[{regularizer}]"])  # lazy ones run at step 0 too
    logs = gan.train_step(REAL)
    assert gan.metric_names[-1] == regularizer and regularizer in logs
    assert float(logs[regularizer]) > 0
