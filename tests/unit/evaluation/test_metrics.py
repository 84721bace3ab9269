"""The metrics against known answers: closed forms, published values, and known orderings."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from pipeline.evaluation import metrics as m

RNG = np.random.default_rng(0)


def random_spd(d: int, rng) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


# --- FID ---------------------------------------------------------------------------------------


def test_fid_of_diagonal_gaussians_is_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum()
    got = m.frechet_distance(
        m.GaussianStats(mu1, np.diag(var1), 0), m.GaussianStats(mu2, np.diag(var2), 0)
    )
    assert got == pytest.approx(expected, rel=1e-12)  # 5 + 1 + 1 + 4 = 11


def test_fid_of_full_covariances_matches_sqrtm():
    rng = np.random.default_rng(1)
    s1, s2 = random_spd(20, rng), random_spd(20, rng)
    mu1, mu2 = rng.standard_normal(20), rng.standard_normal(20)
    reference = (
        ((mu1 - mu2) ** 2).sum()
        + np.trace(s1)
        + np.trace(s2)
        - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
    )
    got = m.frechet_distance(m.GaussianStats(mu1, s1, 0), m.GaussianStats(mu2, s2, 0))
    assert got == pytest.approx(reference, rel=1e-8)


def test_fid_of_a_sample_with_itself_is_zero():
    x = RNG.standard_normal((500, 16))
    assert m.frechet_distance(m.gaussian_stats(x), m.gaussian_stats(x)) == pytest.approx(
        0, abs=1e-8
    )


def test_fid_needs_two_samples():
    with pytest.raises(m.TooFewSamples, match="at least 2 samples, got 1"):
        m.gaussian_stats(RNG.standard_normal((1, 32)))


def test_fid_with_fewer_samples_than_dimensions_is_defined_and_biased_up():
    """Singular covariances (16 samples in 32 dimensions): zero for a set with itself, and
    above the large-sample value for two samples of one distribution (the bias that the
    evaluation's fid_caveat names)."""
    x, y = RNG.standard_normal((16, 32)), RNG.standard_normal((16, 32))
    assert m.frechet_distance(m.gaussian_stats(x), m.gaussian_stats(x)) == pytest.approx(
        0, abs=1e-8
    )
    small = m.frechet_distance(m.gaussian_stats(x), m.gaussian_stats(y))
    large_x, large_y = RNG.standard_normal((4000, 32)), RNG.standard_normal((4000, 32))
    large = m.frechet_distance(m.gaussian_stats(large_x), m.gaussian_stats(large_y))
    assert small > 10 * large > 0


# --- KID ---------------------------------------------------------------------------------------


def test_kid_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2000, 16)), rng.standard_normal((2000, 16))
    same_mean, same_std = m.kernel_distance(a, b, subsets=20, subset_size=500)
    assert abs(same_mean) < 3 * same_std / np.sqrt(20) + 1e-3
    shifted_mean, shifted_std = m.kernel_distance(a, b + 0.5, subsets=20, subset_size=500)
    assert shifted_mean > 10 * shifted_std / np.sqrt(20) and shifted_mean > 0.05


# --- precision / recall / density / coverage ---------------------------------------------------


def test_prdc_of_one_gaussian_near_published_values():
    """Naeem et al. 2020: for two samples of one distribution, density ~1 and coverage
    ~1 - 2^-k = 0.97 for k=5; precision and recall are high and symmetric."""
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((2000, 32)), rng.standard_normal((2000, 32))
    result = m.prdc(real, fake)
    assert 0.9 < result["density"] < 1.1
    assert 0.94 < result["coverage"] < 0.99
    assert result["precision"] > 0.6 and result["recall"] > 0.6
    assert abs(result["precision"] - result["recall"]) < 0.1


def test_prdc_of_collapsed_generator():
    rng = np.random.default_rng(4)
    real = rng.standard_normal((1000, 16))
    collapsed = np.repeat(real[:1], 1000, axis=0)  # one image, repeated
    result = m.prdc(real, collapsed)
    assert result["coverage"] < 0.02 and result["recall"] < 0.02


def test_precision_drops_when_fakes_leave_the_manifold():
    rng = np.random.default_rng(5)
    real = rng.standard_normal((1000, 16))
    off = m.prdc(real, rng.standard_normal((1000, 16)) + 3.0)
    assert off["precision"] < 0.1 and off["density"] < 0.1


# --- classifier-based --------------------------------------------------------------------------


def test_classifier_score_and_class_coverage():
    confident = np.eye(10)[np.arange(1000) % 10] * 0.999 + 0.0001
    assert m.classifier_score(confident)[0] == pytest.approx(10, rel=0.01)
    collapsed = np.eye(10)[np.zeros(1000, int)] * 0.999 + 0.0001
    assert m.classifier_score(collapsed)[0] == pytest.approx(1, rel=0.01)
    assert m.classes_covered(m.class_histogram(confident, 10)) == 10
    assert m.classes_covered(m.class_histogram(collapsed, 10)) == 1


def test_nearest_neighbours_against_brute_force():
    rng = np.random.default_rng(6)
    queries, reference = rng.standard_normal((20, 5)), rng.standard_normal((300, 5))
    dist, index = m.nearest_neighbours(queries, reference, chunk=64)
    brute = np.linalg.norm(queries[:, None] - reference[None], axis=2)
    np.testing.assert_array_equal(index, brute.argmin(axis=1))
    np.testing.assert_allclose(dist, brute.min(axis=1), rtol=1e-4)


def test_a_classifier_of_other_data_is_named_not_a_keras_traceback():
    from pipeline.errors import PipelineError
    from pipeline.evaluation.classifier import FeatureExtractor, build_classifier

    extractor = FeatureExtractor(build_classifier((28, 28, 1), 10, 8))
    with pytest.raises(PipelineError, match="trained on 28x28x1 images, but these are 32x32x3"):
        extractor(np.zeros((2, 32, 32, 3), "float32"))


def test_the_few_samples_trace_equals_the_eigendecomposition():
    """tr sqrt(S_a S_b) from the small Gram matrix (n <= d) is the value the d x d
    eigendecomposition gives."""
    x = RNG.standard_normal((40, 100))
    y = 1.3 * RNG.standard_normal((30, 100)) + 0.2
    a, b = m.gaussian_stats(x), m.gaussian_stats(y)
    assert a.centred is not None and b.centred is not None
    dense_a = m.GaussianStats(a.mu, a.sigma, a.n)  # without the centred samples: eigh
    dense_b = m.GaussianStats(b.mu, b.sigma, b.n)
    assert m.trace_sqrt_product(a, b) == pytest.approx(
        m.trace_sqrt_product(dense_a, dense_b), rel=1e-6
    )
    assert m.frechet_distance(a, b) == pytest.approx(m.frechet_distance(dense_a, dense_b), 1e-6)
    assert m.gaussian_stats(RNG.standard_normal((200, 100))).centred is None  # n > d: eigh
