"""The registered generator served by `mlflow models serve` on 127.0.0.1, and the generate
command writing each format."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from pipeline.stages.register import register
from pipeline.viz import image_grid
from tests.helpers.processes import free_port, run_module
from tests.helpers.registry import MODEL_NAME, trained


def post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.mark.faults  # issue 9, #4: too many images, bad seeds, wrong types, empty bodies
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
        assert status == 400 and "from 1 to 64 (got 5000)" in body["message"]
        status, body = post(
            f"{base}/invocations", {"dataframe_records": [{"num_images": 2, "seed": -3}]}
        )
        assert status == 400 and "seed must be an integer from 0" in body["message"]
        # JSON numbers MLflow's "long" columns truncated or wrapped (issue 9, #10): refused.
        for bad, shown in (({"seed": 1.5}, "1.5"), ({"seed": 1e30}, "1e+30"),
                           ({"num_images": 1.9}, "1.9")):  # fmt: skip
            status, body = post(
                f"{base}/invocations",
                {"dataframe_records": [{"num_images": 2, "seed": 1, **bad}]},
            )
            assert status == 400 and f"(got {shown})" in body["message"], body
        status, _ = post(
            f"{base}/invocations", {"dataframe_records": [{"num_images": "many", "seed": 1}]}
        )
        assert 400 <= status < 500
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_generate_command_writes_each_format(tmp_path, store, smoke_cfg, generator_file):
    cfg, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "gen")
    register(cfg)
    common = [f"tracking.uri={store}", f"registry.model_name={MODEL_NAME}",
              "generate.num_images=300", f"hydra.run.dir={tmp_path / 'hydra'}"]  # fmt: skip
    for fmt, name in (("grid", "g.png"), ("npz", "g.npz"), ("folder", "g")):
        result = run_module("pipeline.stages.generate", *common, f"generate.format={fmt}",
                            f"generate.output={tmp_path / name}")  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "g.npz")["images"].shape == (300, 28, 28, 1)
    assert len(list((tmp_path / "g").glob("*.png"))) == 300
    from PIL import Image

    assert Image.open(tmp_path / "g.png").size == image_grid(np.zeros((300, 28, 28, 1))).shape[::-1]

    missing = run_module("pipeline.stages.generate", f"tracking.uri={store}",
                         "registry.model_name=no-such-model", f"hydra.run.dir={tmp_path / 'h'}")  # fmt: skip
    assert missing.returncode == 2 and "cannot load the model" in missing.stderr
