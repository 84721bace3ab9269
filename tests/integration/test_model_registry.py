"""The Model Registry on a real SQLite store: champion rules, idempotent reruns, the pyfunc model
loaded by name, and register's errors."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from pipeline.stages.register import register
from tests.helpers.configs import ROOT
from tests.helpers.processes import run_module
from tests.helpers.registry import MODEL_NAME, champion_version, trained


def test_champion_rules(tmp_path, store, smoke_cfg, generator_file):
    client = MlflowClient(store)

    first, first_run = trained(tmp_path, smoke_cfg, generator_file, 30.0, "P1", "first")
    assert register(first) == "champion"
    assert champion_version(client) == "1"

    worse, _ = trained(tmp_path, smoke_cfg, generator_file, 40.0, "P1", "worse")
    assert register(worse) == "challenger"
    assert champion_version(client) == "1"
    assert str(client.get_model_version_by_alias(MODEL_NAME, "challenger").version) == "2"
    decision = json.loads((tmp_path / "worse" / "metrics" / "register.json").read_text())
    assert decision["reason"] == "FID 40.000 does not beat champion v1's 30.000"

    better, better_run = trained(tmp_path, smoke_cfg, generator_file, 20.0, "P1", "better")
    assert register(better) == "champion"
    assert champion_version(client) == "3"
    assert client.get_run(better_run).data.tags["registry.decision"] == "champion"

    other, _ = trained(tmp_path, smoke_cfg, generator_file, 1.0, "P2", "other-protocol")
    assert register(other) == "challenger", "a different protocol is never compared"
    assert champion_version(client) == "3"
    assert "not comparable" in client.get_model_version(MODEL_NAME, "4").tags["reason"]

    # Rerunning on the same training runs registers nothing new.
    assert register(other) == "challenger" and register(better) == "champion"
    versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    assert client.get_model_version(MODEL_NAME, "1").tags["train_run_id"] == first_run
    # Artifacts live beside the SQLite file, not in ./mlruns of whatever directory ran it.
    assert (tmp_path / "mlartifacts" / "gan-pipeline").is_dir()


def test_champion_loads_by_name_and_validates_input(tmp_path, store, smoke_cfg, generator_file):
    cfg, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "only")
    register(cfg)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")

    images = model.predict(pd.DataFrame({"num_images": [3], "seed": [5]}))
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1
    again = model.predict(pd.DataFrame({"num_images": [3], "seed": [5]}))
    other = model.predict(pd.DataFrame({"num_images": [3], "seed": [6]}))
    np.testing.assert_array_equal(images, again)
    assert not np.allclose(images, other)

    for bad, message in (
        ({"num_images": [0], "seed": [1]}, "between 1 and 64"),
        ({"num_images": [65], "seed": [1]}, "between 1 and 64"),
        ({"num_images": [2], "seed": [-1]}, "seed must be 0 or more"),
        ({"num_images": [2], "seed": [1], "label": [3]}, "unconditional"),
    ):
        with pytest.raises(MlflowException, match=message):
            model.predict(pd.DataFrame(bad))


def test_conditional_champion_takes_a_label(tmp_path, store, smoke_cfg, conditional_generator_file):
    cfg, _ = trained(tmp_path, smoke_cfg, conditional_generator_file, 10.0, "P1", "cond")
    register(cfg)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    cycled = model.predict(pd.DataFrame({"num_images": [10], "seed": [5]}))
    sevens = model.predict(pd.DataFrame({"num_images": [10], "seed": [5], "label": [7]}))
    assert cycled.shape == sevens.shape == (10, 28, 28, 1)
    # Same noise: image 7 of the cycled request is class 7's, the others are not.
    np.testing.assert_allclose(cycled[7], sevens[7], atol=1e-6)
    assert not np.allclose(cycled[0], sevens[0])
    for label in (10, -1):
        with pytest.raises(MlflowException, match="label must be a class number from 0 to 9"):
            model.predict(pd.DataFrame({"num_images": [2], "seed": [1], "label": [label]}))
    with pytest.raises(MlflowException, match="label"):  # MLflow's own schema: an integer
        model.predict(pd.DataFrame({"num_images": [2], "seed": [1], "label": [2.5]}))


def test_register_before_evaluate_is_a_clear_error(tmp_path, store, smoke_cfg):
    cfg = smoke_cfg.copy()
    cfg.paths.models, cfg.paths.metrics = str(tmp_path / "m"), str(tmp_path / "x")
    params = tmp_path / "params.yaml"
    OmegaConf.save(cfg, params)
    result = run_module("pipeline.stages.register", "--params", str(params), cwd=ROOT)
    assert result.returncode == 2 and "run the train stage first" in result.stderr
