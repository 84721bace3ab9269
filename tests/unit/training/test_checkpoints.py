"""The checkpoint fingerprint is an allow-list: only what changes the weights restarts training."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from pipeline.training.checkpoints import checkpoint_fingerprint
from tests.helpers.configs import compose_config, validate_all

META = {"checksum": "abc", "shape": [28, 28, 1], "counts": {"train": 512}, "limit": 512}


def fingerprint(overrides: list[str], meta: dict = META) -> str:
    cfg = OmegaConf.to_container(validate_all(compose_config(overrides)))
    return checkpoint_fingerprint(
        seed=cfg["seed"], data_meta=meta, model=cfg["model"], loss=cfg["loss"],
        regularizers=cfg["regularizers"], training=cfg["training"],
    )  # fmt: skip


@pytest.mark.parametrize(
    "override",
    [
        "training.epochs=7",
        "training.log_every_steps=5",
        "training.checkpoint_every_steps=50",
        "training.sample_every_steps=9",
        "training.num_samples=16",
        "training.jit_compile=true",
        "training.steps_per_execution=1",
        "training.intra_op_threads=2",
        "training.resume=false",
        "generate.num_images=5",
        "generate.format=npz",
        "evaluation.num_generated=2000",
        "registry.max_images=8",
        "tracking.run_name=x",
        "paths.models=elsewhere",
    ],
)
def test_settings_that_do_not_change_the_weights_keep_the_checkpoint(override):
    assert fingerprint([override]) == fingerprint([])


@pytest.mark.parametrize(
    "override",
    [
        "seed=1",
        "training.batch_size=64",
        "training.generator_lr=0.001",
        "training.beta_1=0.9",
        "training.steps_per_epoch=10",
        "model=mlp",
        "model.latent_dim=64",
        "loss=non_saturating",
        "regularizers=[]",
        "regularizers=[r1,lecam]",
        "regularizers.r1.gamma=2.0",
        "training.beta_2=0.99",
        "training.lr_schedule=cosine",
        "training.discriminator_steps=2",
        "training.ema_decay=0.99",
        "training.augment=[color]",
        "training.mode_seeking=1.0",
        "model.minibatch_std=false",
    ],
)
def test_settings_that_change_the_weights_start_over(override):
    assert fingerprint([override]) != fingerprint([])


def test_other_data_starts_over():
    assert fingerprint([], {**META, "checksum": "other"}) != fingerprint([])
    assert fingerprint([], {**META, "limit": 100}) != fingerprint([])


def test_with_a_decaying_learning_rate_more_epochs_start_over():
    """The schedule spans the run: a longer run's rates differ from the first step on."""
    assert fingerprint(["training.lr_schedule=linear", "training.epochs=7"]) != fingerprint(
        ["training.lr_schedule=linear"]
    )
