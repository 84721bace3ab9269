"""Proof of equivalence: the Keras FID Inception network gives the original TorchScript
module's features on every committed image and the same FID between two fixed sets of 100
(the reference: scripts/inception_reference.py, run once with PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation import metrics as m
from pipeline.evaluation.spaces.inception import InceptionSpace
from tests.helpers.files import FIXTURES
from tests.unit.evaluation.test_inception import RELATIVE_TOLERANCE, relative_errors

FID_TOLERANCE = 1e-3  # relative: 0.1% (measured: 1e-7)


@pytest.fixture(scope="module")
def features():
    space = InceptionSpace(batch_size=50)
    with np.load(FIXTURES / "inception" / "images.npz") as images:
        return {key: space.features(images[key]) for key in images.files}


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURES / "inception" / "reference.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("key", ["set_a", "set_b", "grey", "large"])
def test_features_match_the_torchscript_module(features, reference, key):
    expected = reference[key].astype(np.float64)
    ours = features[key][: len(expected)]
    assert relative_errors(ours, expected).max() < RELATIVE_TOLERANCE


def test_fid_between_two_fixed_sets_matches_the_reference(features, reference):
    def stats(x):  # 100 images in 2048 dimensions: the plain statistics, as the reference
        return m.GaussianStats(x.mean(axis=0), np.cov(x, rowvar=False), len(x))

    fid = m.frechet_distance(stats(features["set_a"]), stats(features["set_b"]))
    expected = float(reference["fid_a_b"])
    assert expected > 100  # two sets of different photos: far apart
    assert abs(fid - expected) / expected < FID_TOLERANCE
