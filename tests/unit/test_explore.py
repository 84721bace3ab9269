"""Latent walks and truncation (pipeline.explore): closed-form checks."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.explore import noise, slerp


def test_slerp_runs_from_one_end_to_the_other_at_the_norm_of_the_noise():
    a, b = noise(2, 64, seed=0)
    walk = slerp(a, b, np.linspace(0, 1, 9))
    np.testing.assert_allclose(walk[0], a, atol=1e-5)
    np.testing.assert_allclose(walk[-1], b, atol=1e-5)
    # a straight line's middle has a norm of about |a| / sqrt(2); the spherical walk keeps ~|a|
    norms = np.linalg.norm(walk, axis=1)
    assert norms.min() > 0.9 * min(np.linalg.norm(a), np.linalg.norm(b))
    assert np.linalg.norm((a + b) / 2) < 0.8 * norms[4]


def test_truncation_scales_the_seeded_noise_towards_the_mean():
    np.testing.assert_allclose(noise(5, 8, 3, truncation=0.5), 0.5 * noise(5, 8, 3), rtol=1e-6)
    for bad in (0.0, 1.2):
        with pytest.raises(ValueError, match="truncation must be in"):
            noise(1, 8, 0, bad)
