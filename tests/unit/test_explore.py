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


def test_a_walk_between_classes_starts_and_ends_at_the_classes_own_images():
    """A conditional generator's class walks enter after the label embedding: at its ends they
    give exactly what the generator draws for the two classes at that noise."""
    from pipeline.explore import latent_walks
    from pipeline.gan.conditional import conditional_networks
    from tests.helpers.configs import tiny_mlp

    generator, _ = conditional_networks(tiny_mlp(), (28, 28, 1), 3)
    walks, names = latent_walks(generator, [0, 1], steps=4, class_names=["a", "b", "c"])
    assert walks.shape == (6, 4, 28, 28, 1)
    assert names == ["a", "b", "c", "a -> b", "b -> c", "c -> a"]
    z = noise(1, 8, 0)
    for k in range(3):
        own = generator([z, np.array([k], "int32")], training=False)
        np.testing.assert_allclose(walks[3 + k, 0], np.asarray(own)[0], atol=1e-5)
        following = generator([z, np.array([(k + 1) % 3], "int32")], training=False)
        np.testing.assert_allclose(walks[3 + k, -1], np.asarray(following)[0], atol=1e-5)
    np.testing.assert_allclose(walks[1, 0], walks[3, -1], atol=1e-5)  # class b, seed 0's noise
