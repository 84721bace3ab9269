"""The registered generator answering as docs/serving.md says: PNG answers from the pyfunc
model, and every JSON request of that page posted to a real `mlflow models serve` on
127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from PIL import Image

from pipeline.data.specs import FASHION_MNIST
from pipeline.stages.register import register
from tests.helpers.configs import ROOT
from tests.helpers.processes import free_port
from tests.helpers.registry import MODEL_NAME, trained

PAGE = ROOT / "docs" / "serving.md"
CLASSES = FASHION_MNIST.class_names


def decoded(png: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(png))))


def test_png_answers_carry_the_request_row_and_class_name(
    tmp_path, store, smoke_cfg, conditional_generator_file
):
    cfg, _ = trained(tmp_path, smoke_cfg, conditional_generator_file, 10.0, "P1", "png")
    register(cfg)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    request = pd.DataFrame({"num_images": [2, 3], "seed": [4, 5], "label": ["Sneaker", None]})
    arrays = model.predict(request)
    table = model.predict(request, params={"format": "png"})
    assert list(table.columns) == ["row", "label", "png"]
    assert table["row"].tolist() == [0, 0, 1, 1, 1]
    assert table["label"].tolist() == ["Sneaker", "Sneaker", *CLASSES[:3]]
    for image, png in zip(arrays, table["png"], strict=True):
        pixels = decoded(png)
        assert pixels.shape == (28, 28) and pixels.dtype == np.uint8  # grey: one channel
        np.testing.assert_allclose(pixels, (image[..., 0] + 1) * 127.5, atol=0.51)
    with pytest.raises(MlflowException, match=r"format must be one of array, png \(got 'jpeg'\)"):
        model.predict(request, params={"format": "jpeg"})


def serve(port: int, log) -> subprocess.Popen:
    """`mlflow models serve` of the test champion on 127.0.0.1:port, once it answers /ping."""
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m",
               f"models:/{MODEL_NAME}@champion", "--env-manager", "local",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5):
                return process
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, "mlflow models serve exited"
            assert time.monotonic() < deadline, "mlflow models serve did not answer in 180 s"
            time.sleep(1)


def post(port: int, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def documented_requests() -> list[dict]:
    blocks = re.findall(r"```json\n(.*?)```", PAGE.read_text(), flags=re.S)
    return [json.loads(block) for block in blocks]


def test_a_served_champion_answers_the_documented_requests(
    tmp_path, store, smoke_cfg, conditional_generator_file
):
    cfg, _ = trained(tmp_path, smoke_cfg, conditional_generator_file, 10.0, "P1", "served")
    register(cfg)
    local = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    requests = documented_requests()
    assert len(requests) == 3, "docs/serving.md: the array, PNG and refused examples"
    port = free_port()
    with open(tmp_path / "serve.log", "w") as log:
        server = serve(port, log)
    try:
        answers = [post(port, body) for body in requests]
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its workers
        server.wait(timeout=30)
    log_text = (tmp_path / "serve.log").read_text()[-3000:]

    (status, arrays), (status_png, pngs), (status_bad, refusal) = answers
    assert status == 200, log_text
    images = np.asarray(arrays["predictions"], dtype=np.float32)
    expected = local.predict(pd.DataFrame(requests[0]["dataframe_records"]))
    assert images.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(images, expected, atol=1e-6)  # the same seed, the same images

    assert status_png == 200, log_text
    records = pngs["predictions"]
    assert [(r["row"], r["label"]) for r in records] == [
        (0, "Sneaker"),
        (0, "Sneaker"),
        (0, "Sneaker"),
        (1, CLASSES[0]),
        (1, CLASSES[0]),
    ]
    assert all(decoded(r["png"]).shape == (28, 28) for r in records)

    assert status_bad == 400 and refusal["error_code"] == "INVALID_PARAMETER_VALUE"
    assert (
        "label 'Sneakers' is not a class; the classes are: 0 'T-shirt/top'" in (refusal["message"])
    )
