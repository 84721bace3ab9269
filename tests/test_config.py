"""The real conf/ composes, validates, and matches the committed params.yaml."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from pipeline.config import repo_root, tracking_uri, validate
from pipeline.errors import PipelineError
from tests.conftest import ROOT, compose_config, run_module


@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist", "cifar10", "image_folder"])
@pytest.mark.parametrize("model", ["mlp", "dcgan", "dcgan_small"])
def test_every_dataset_and_model_composes(dataset, model):
    cfg = validate(compose_config([f"dataset={dataset}", f"model={model}"]))
    assert cfg.dataset.name == dataset and cfg.model.name in ("mlp", "dcgan")


@pytest.mark.parametrize("experiment", ["smoke", "cifar10_dcgan", "mnist_mlp"])
def test_experiment_presets_compose(experiment):
    validate(compose_config([f"experiment={experiment}"]))


def test_smoke_with_another_model():
    cfg = validate(compose_config(["experiment=smoke", "model=dcgan"]))
    assert cfg.model.name == "dcgan" and cfg.training.steps_per_epoch == 4


def test_committed_params_yaml_matches_conf():
    """`dvc repro` reads params.yaml as committed; it must equal DVC's composition of conf/."""
    result = run_module("pipeline.params", "--check")
    assert result.returncode == 0, result.stderr


def test_params_check_detects_drift(tmp_path):
    import shutil

    for name in ("conf", "dvc.yaml", "params.yaml"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    (tmp_path / "conf" / "training" / "default.yaml").write_text(
        (ROOT / "conf/training/default.yaml").read_text().replace("epochs: 3", "epochs: 4")
    )
    result = run_module("pipeline.params", "--check", cwd=tmp_path)
    assert result.returncode == 1 and "differs from the composition of conf/" in result.stderr


def test_wrong_type_names_the_key():
    cfg = compose_config(["training.epochs=many"])
    with pytest.raises(PipelineError, match="training.epochs"):
        validate(cfg)


def test_out_of_range_names_the_key():
    with pytest.raises(PipelineError, match=r"(?s)training.batch_size.*at least 1"):
        validate(compose_config(["training.batch_size=0"]))


def test_unknown_key_is_refused():
    cfg = compose_config()
    OmegaConf.set_struct(cfg, False)
    cfg.training.epoch = 3  # a typo for epochs
    with pytest.raises(PipelineError, match="training.epoch"):
        validate(cfg)


def test_unknown_model_in_params_file(tmp_path):
    params = OmegaConf.load(ROOT / "params.yaml")
    params.model.name = "transformer"
    path = tmp_path / "params.yaml"
    OmegaConf.save(params, path)
    result = run_module("pipeline.train", "--params", str(path))
    assert result.returncode == 2
    assert "unknown model 'transformer'; choose one of: mlp, dcgan" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_type_on_the_command_line(tmp_path):
    result = run_module("pipeline.train", "training.epochs=many", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2
    assert "invalid configuration value for 'training.epochs'" in result.stderr


def test_unknown_dataset_on_the_command_line(tmp_path):
    result = run_module("pipeline.prepare", "dataset=imagenet", f"hydra.run.dir={tmp_path}")
    assert result.returncode != 0
    assert "dataset/imagenet" in result.stderr and "fashion_mnist" in result.stderr


def test_queued_dvc_experiment_resolves_to_the_real_repo(tmp_path):
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy.mkdir(parents=True)
    assert repo_root(copy) == tmp_path / "repo"


def test_default_tracking_uri_is_absolute_sqlite(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking_uri(compose_config())
    assert uri.startswith("sqlite:////") and uri.endswith("/mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(compose_config()) == "http://127.0.0.1:5000"
