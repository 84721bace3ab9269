"""The Model Registry on a real SQLite store: champion rules, idempotent reruns, the pyfunc model
loaded by name, `mlflow models serve` on 127.0.0.1, and the generate command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from pipeline import tracking
from pipeline.models import build_networks
from pipeline.register import register
from pipeline.viz import image_grid
from tests.conftest import ROOT, run_module

MODEL_NAME = "test-generator"


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    return uri


@pytest.fixture(scope="module")
def generator_file(tmp_path_factory) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    model_cfg = {"name": "mlp", "latent_dim": 8, "generator_units": [16],
                 "discriminator_units": [8], "batch_norm_momentum": 0.8, "leaky_relu_slope": 0.2}  # fmt: skip
    generator, _ = build_networks(model_cfg, (28, 28, 1))
    path = tmp_path_factory.mktemp("gen") / "generator.keras"
    generator.save(path)
    return path


def trained(tmp_path: Path, smoke_cfg, generator_file, fid: float, protocol: str, name: str):
    """What train + evaluate leave behind: a generator, its MLflow run, and eval.json."""
    folder = tmp_path / name
    (folder / "models").mkdir(parents=True)
    shutil.copy(generator_file, folder / "models" / "generator.keras")
    cfg = smoke_cfg.copy()
    cfg.tracking.uri = mlflow.get_tracking_uri()
    tracking.configure(cfg)
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_metric("fid", fid)
    (folder / "models" / "train_run.json").write_text(json.dumps({"run_id": run.info.run_id}))
    (folder / "metrics").mkdir()
    (folder / "metrics" / "eval.json").write_text(
        json.dumps({"fid": fid, "protocol": {"key": protocol, "dataset": "fashion_mnist"}})
    )
    cfg.paths.models, cfg.paths.metrics = str(folder / "models"), str(folder / "metrics")
    cfg.registry.model_name = MODEL_NAME
    cfg.registry.max_images = 64
    return cfg, run.info.run_id


def champion_version(client) -> str:
    return str(client.get_model_version_by_alias(MODEL_NAME, "champion").version)


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.mark.slow
def test_mlflow_models_serve_answers_and_rejects(tmp_path, store, smoke_cfg, generator_file):
    cfg, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "served")
    register(cfg)
    port = free_port()
    mlflow_cli = [sys.executable, "-c", "from mlflow.cli import cli; cli()"]
    server = subprocess.Popen(
        [*mlflow_cli, "models", "serve", "-m", f"models:/{MODEL_NAME}@champion",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "MLFLOW_TRACKING_URI": store},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the model server did not come up in 240 s"
            time.sleep(1)

        status, body = post(
            f"{base}/invocations", {"dataframe_records": [{"num_images": 2, "seed": 1}]}
        )
        assert status == 200
        assert np.asarray(body["predictions"]).shape == (2, 28, 28, 1)

        status, body = post(
            f"{base}/invocations", {"dataframe_records": [{"num_images": 5000, "seed": 1}]}
        )
        assert status == 400 and "between 1 and 64" in body["message"]
        status, body = post(
            f"{base}/invocations", {"dataframe_records": [{"num_images": 2, "seed": -3}]}
        )
        assert status == 400 and "seed must be 0 or more" in body["message"]
        status, _ = post(
            f"{base}/invocations", {"dataframe_records": [{"num_images": "many", "seed": 1}]}
        )
        assert 400 <= status < 500
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.mark.slow
def test_generate_command_writes_each_format(tmp_path, store, smoke_cfg, generator_file):
    cfg, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "gen")
    register(cfg)
    common = [f"tracking.uri={store}", f"registry.model_name={MODEL_NAME}",
              "generate.num_images=300", f"hydra.run.dir={tmp_path / 'hydra'}"]  # fmt: skip
    for fmt, name in (("grid", "g.png"), ("npz", "g.npz"), ("folder", "g")):
        result = run_module("pipeline.generate", *common, f"generate.format={fmt}",
                            f"generate.output={tmp_path / name}")  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "g.npz")["images"].shape == (300, 28, 28, 1)
    assert len(list((tmp_path / "g").glob("*.png"))) == 300
    from PIL import Image

    assert Image.open(tmp_path / "g.png").size == image_grid(np.zeros((300, 28, 28, 1))).shape[::-1]

    missing = run_module("pipeline.generate", f"tracking.uri={store}",
                         "registry.model_name=no-such-model", f"hydra.run.dir={tmp_path / 'h'}")  # fmt: skip
    assert missing.returncode == 2 and "cannot load the model" in missing.stderr


def test_register_before_evaluate_is_a_clear_error(tmp_path, store, smoke_cfg):
    cfg = smoke_cfg.copy()
    cfg.paths.models, cfg.paths.metrics = str(tmp_path / "m"), str(tmp_path / "x")
    params = tmp_path / "params.yaml"
    OmegaConf.save(cfg, params)
    result = run_module("pipeline.register", "--params", str(params), cwd=ROOT)
    assert result.returncode == 2 and "run the train stage first" in result.stderr
