"""Adding a loss, a regularizer, a model and a dataset is one function (or file) plus one YAML,
with no edit elsewhere: toy entries of each kind, registered here, with YAML files in a copy of
conf/, compose, validate, prepare and train."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import numpy as np
import pytest

from pipeline.config import DatasetConfig, LossConfig, ModelConfig, setting, validate
from pipeline.data.prepared import RawDataset, load_prepared
from pipeline.data.readers import load_raw
from pipeline.data.specs import DATASETS, DatasetSpec
from pipeline.data.writer import write_prepared
from pipeline.gan.losses import LOSSES, GanLoss
from pipeline.gan.regularizers import REGULARIZERS, Term
from pipeline.models import MODELS
from pipeline.training import loop
from pipeline.training.settings import GanSettings
from tests.helpers.configs import CONF, compose_config, output_overrides, stage_schema


# --- a dataset: one spec naming a reader -------------------------------------------------------
@dataclass
class StripesConfig(DatasetConfig):
    """The source's own keys besides those of every dataset."""

    size: int = setting(ge=2)
    seed: int = setting(ge=0)


def read_stripes(spec, settings: StripesConfig, raw_dir):
    rng = np.random.default_rng(settings.seed)
    size = settings.size
    images = (rng.integers(0, 2, (96, 1, 1, 1)) * 255 * np.ones((1, size, size, 1))).astype(
        np.uint8
    )
    labels = images[:, 0, 0, 0] // 255
    return RawDataset(spec.name, (images[:64], labels[:64]), (images[64:], labels[64:]),
                      ["dark", "light"], {"stripes": "generated"})  # fmt: skip


# --- a loss: two functions ----------------------------------------------------------------------
@dataclass
class ToyLossConfig(LossConfig):
    scale: float = setting(gt=0)


def toy_d(batch, scale):
    from keras import ops

    real, fake = batch.real_logits, batch.fake_logits
    return scale * (ops.mean(ops.softplus(-real)) + ops.mean(ops.softplus(fake)))


def toy_g(batch, scale):
    from keras import ops

    return scale * ops.mean(ops.softplus(-batch.fake_logits))


# --- a regularizer: one function ----------------------------------------------------------------
@dataclass
class LogitPenaltyConfig:
    weight: float = setting(ge=0)


def logit_penalty(batch, weight):
    """ProGAN's drift term: keeps real logits near 0."""
    from keras import ops

    return weight * ops.mean(ops.square(batch.real_logits))


# --- a model: one builder -----------------------------------------------------------------------
@dataclass
class TinyConfig(ModelConfig):
    units: int = setting(ge=1)


def build_tiny(cfg: TinyConfig, image_shape):
    import math

    import keras
    from keras import layers

    g = keras.Sequential([keras.Input((cfg.latent_dim,)), layers.Dense(cfg.units),
                          layers.Dense(math.prod(image_shape), activation="tanh"),
                          layers.Reshape(image_shape)], name="generator")  # fmt: skip
    d = keras.Sequential([keras.Input(image_shape), layers.Flatten(), layers.Dense(cfg.units),
                          layers.Dense(1)], name="discriminator")  # fmt: skip
    return g, d


YAML = {
    "dataset/stripes.yaml": "name: stripes\nraw_dir: null\nlimit: null\ntitle: null\nsize: 8\n"
    "seed: 0\n",
    "loss/toy.yaml": "name: toy\nscale: 2.0\n",
    "regularizers/logit_penalty.yaml": "logit_penalty:\n  weight: 0.001\n",
    "model/tiny.yaml": "name: tiny\nlatent_dim: 4\nunits: 16\n",
}


@pytest.fixture
def toy_entries():
    with (
        DATASETS.temporarily("stripes", DatasetSpec("stripes", read_stripes), StripesConfig),
        LOSSES.temporarily("toy", GanLoss(toy_d, toy_g), ToyLossConfig),
        REGULARIZERS.temporarily("logit_penalty", Term(logit_penalty), LogitPenaltyConfig),
        MODELS.temporarily("tiny", build_tiny, TinyConfig),
    ):
        yield


def test_toy_entry_of_each_kind(tmp_path, toy_entries):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    for name, text in YAML.items():
        (conf / name).write_text(text)
    cfg = compose_config(
        ["experiment=smoke", "dataset=stripes", "loss=toy", "regularizers=[logit_penalty]",
         "model=tiny", "dataset.limit=null", "training.batch_size=16",
         *output_overrides(tmp_path)],
        conf_dir=conf,
    )  # fmt: skip

    prepare_cfg = validate(cfg, stage_schema("prepare"))
    assert isinstance(prepare_cfg.dataset, StripesConfig) and prepare_cfg.dataset.size == 8
    raw = load_raw(prepare_cfg.dataset, prepare_cfg.paths.raw)
    write_prepared(raw, tmp_path / "prepared")
    data = load_prepared(tmp_path / "prepared", expected_dataset="stripes")
    assert data.images("train").shape == (64, 8, 8, 1)

    t = validate(cfg, stage_schema("train"))
    result = loop.train(data.images("train"), GanSettings.from_config(t))
    assert result.gan.generator.input_shape[-1] == 4, "the tiny model was built"
    assert result.steps == 8
    assert list(result.rows[0]) == ["step", "d_loss", "g_loss", "d_acc_real", "d_acc_fake",
                                    "logit_penalty", "images_per_s"]  # fmt: skip
    assert all(np.isfinite(r["logit_penalty"]) and r["logit_penalty"] >= 0 for r in result.rows)
