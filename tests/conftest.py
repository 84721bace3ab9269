"""Fixtures shared by every tier, and the tiers themselves: tests under tests/integration and
tests/e2e are marked slow, so `pytest -m "not slow"` runs tests/unit, the inner loop.
Helpers (configs, files, processes) live in tests/helpers, imported by the tests directly."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import mlflow
import pytest

import pipeline  # noqa: F401  (sets TensorFlow's log level before anything imports it)
from pipeline.models import build_networks
from tests.helpers.configs import compose_config, output_overrides, tiny_mlp, validate_all

TESTS = Path(__file__).resolve().parent
SLOW_TIERS = ("integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.fspath).relative_to(TESTS).parts[0]
        if tier in SLOW_TIERS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def smoke_cfg(tmp_path):
    """The smoke preset, validated, with every output and the MLflow store under tmp_path."""
    return validate_all(compose_config(["experiment=smoke", *output_overrides(tmp_path)]))


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields (folder, base_url)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


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
    model_cfg = tiny_mlp()
    generator, _ = build_networks(model_cfg, (28, 28, 1))
    path = tmp_path_factory.mktemp("gen") / "generator.keras"
    generator.save(path)
    return path


@pytest.fixture(scope="module")
def conditional_generator_file(tmp_path_factory) -> Path:
    """A small class-conditional generator (10 classes), saved as train saves one."""
    import keras

    from pipeline.gan.conditional import conditional_networks

    keras.utils.set_random_seed(0)
    model_cfg = tiny_mlp()
    generator, _ = conditional_networks(model_cfg, (28, 28, 1), 10)
    path = tmp_path_factory.mktemp("cgen") / "generator.keras"
    generator.save(path)
    return path


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests():
    """Keras's session and the TensorFlow objects a test leaves are freed after it, a test's
    worth at a time, and what survives is frozen (gc.freeze: never traversed again), so each
    collection sees one test's objects only. Left to Python's collector, TF objects piled up
    and one full collection inside a later test took 47 s (some 100,000 objects finalised),
    turning tests of seconds into minutes; a plain gc.collect() after every test instead cost
    about 2 s per unit test (the whole heap traversed each time)."""
    yield
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()
    gc.freeze()
