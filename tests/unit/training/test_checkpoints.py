"""The checkpoint fingerprint is an allow-list: only what changes the weights restarts training,
and what does is marked in the schemas of a run's sections (`pipeline.config.training`)."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.config import (
    AugmentConfig,
    CheckpointConfig,
    ComputeConfig,
    MonitorConfig,
    TrainingConfig,
    settings_of,
)
from pipeline.training.checkpoints import checkpoint_fingerprint
from pipeline.training.settings import GanSettings
from tests.helpers.configs import compose_config, validate_all

META = {"checksum": "abc", "shape": [28, 28, 1], "counts": {"train": 512}, "limit": 512}
SECTIONS = {"training": TrainingConfig, "augment": AugmentConfig, "compute": ComputeConfig,
            "checkpoint": CheckpointConfig, "monitor": MonitorConfig}  # fmt: skip


def fingerprint(overrides: list[str], meta: dict = META) -> str:
    settings = GanSettings.from_config(validate_all(compose_config(overrides)))
    return checkpoint_fingerprint(settings.seed, meta, settings.weight_sections())


def other_value(section: str, name: str, value):
    """A valid value of <section>.<name> other than ``value``, from its schema."""
    rules = {f.name: f.metadata for f in dataclasses.fields(SECTIONS[section])}[name]
    if "choices" in rules:
        return next(c for c in rules["choices"] if c != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, list):
        return [] if value else ["color"]
    if value is None or isinstance(value, int):
        return (value or 1) + 1
    return value / 2 if value else 0.5  # floats: every range here holds these


def marked(weights: bool) -> list[str]:
    return [f"{section}.{f.name}" for section, schema in SECTIONS.items()
            for f in dataclasses.fields(schema) if f.metadata["weights"] is weights]  # fmt: skip


@pytest.mark.parametrize("section", SECTIONS)
def test_every_field_of_a_run_says_whether_it_changes_the_weights(section):
    """A new field must be marked weights=True, False or a function of the section."""
    fields = dataclasses.fields(SECTIONS[section])
    assert [f.name for f in fields if "weights" not in f.metadata] == []


def override(key: str) -> str:
    section, name = key.split(".")
    base = settings_of(getattr(validate_all(compose_config([])), section))
    value = other_value(section, name, base[name])
    shown = (
        "[" + ",".join(value) + "]"
        if isinstance(value, list)
        else str(value).lower()
        if isinstance(value, bool)
        else value
    )
    return f"{key}={shown}"


@pytest.mark.parametrize("key", marked(True))
def test_fields_marked_as_changing_the_weights_start_over(key):
    assert fingerprint([override(key)]) != fingerprint([])


@pytest.mark.parametrize("key", marked(False))
def test_fields_marked_as_not_changing_the_weights_keep_the_checkpoint(key):
    assert fingerprint([override(key)]) == fingerprint([])


@pytest.mark.parametrize(
    "override",
    [
        "generate.num_images=5",
        "generate.format=npz",
        "evaluation.num_generated=2000",
        "registry.max_images=8",
        "tracking.run_name=x",
        "paths.models=elsewhere",
    ],
)
def test_other_sections_do_not_change_the_checkpoint(override):
    assert fingerprint([override]) == fingerprint([])


@pytest.mark.parametrize(
    "override",
    [
        "seed=1",
        "model=mlp",
        "model.latent_dim=64",
        "loss=non_saturating",
        "regularizers=[]",
        "regularizers=[r1,lecam]",
        "regularizers.r1.gamma=2.0",
        "regularizers=[r1,mode_seeking]",
        "model.minibatch_std=false",
    ],
)
def test_the_model_loss_and_terms_change_the_weights(override):
    assert fingerprint([override]) != fingerprint([])


def test_adaptive_augmentation_settings_count_only_while_it_is_on():
    """ADA's speed and augmentations are marked with a function: they shape the weights only
    when augment.ada_target turns it on."""
    on = ["augment.ada_target=0.6"]
    assert fingerprint(["augment.ada_speed_images=1000"]) == fingerprint([])
    assert fingerprint(["augment.ada_augment=[flip]"]) == fingerprint([])
    assert fingerprint([*on, "augment.ada_speed_images=1000"]) != fingerprint(on)
    assert fingerprint([*on, "augment.ada_augment=[flip]"]) != fingerprint(on)


def test_other_data_starts_over():
    assert fingerprint([], {**META, "checksum": "other"}) != fingerprint([])
    assert fingerprint([], {**META, "limit": 100}) != fingerprint([])


def test_with_a_decaying_learning_rate_more_epochs_start_over():
    """The schedule spans the run: a longer run's rates differ from the first step on; at a
    constant rate more epochs continue the run (epochs is marked with a function of the section)."""
    assert fingerprint(["training.epochs=7"]) == fingerprint([])
    assert fingerprint(["training.lr_schedule=linear", "training.epochs=7"]) != fingerprint(
        ["training.lr_schedule=linear"]
    )
