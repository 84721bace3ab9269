"""The champion-vs-challenger comparison (pipeline.evaluation.compare): two samples of one
distribution are within noise, a generator clearly nearer the real features is better, and the
interval is the bootstrap's, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation.compare import compare, compare_classes, compare_memorisation

D = 16


def features(shift: float, seed: int, n: int = 1500) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, 1.0, (n, D))


REAL = features(0.0, 0)


def test_two_samples_of_one_generator_are_mostly_within_noise():
    """At 95%, about one pair in 20 of one distribution is called different by chance (200 pairs
    measured 4.5%): over 20 pairs, at most 3 may be, and every interval holds its estimate."""
    called = 0
    for i in range(20):
        a, b = features(0.3, 100 + 2 * i, n=300), features(0.3, 101 + 2 * i, n=300)
        result = compare(REAL[:300], a, b, samples=30, seed=i)
        called += result["fid"].better or result["fid"].worse
        assert result["fid"].low < result["fid"].difference < result["fid"].high
    assert called <= 3
    same = compare(REAL[:800], features(0.3, 1, 800), features(0.3, 3, 800), samples=50)
    assert "within noise" in same["fid"].summary() and "within noise" in same["kid"].summary()


def test_a_clearly_nearer_generator_is_better_and_the_other_way_worse():
    """FID of N(s, I) against N(0, I) in 16 dimensions is about 16 s^2: 1.44 against 5.76."""
    nearer, farther = features(0.3, 1, 800), features(0.6, 2, 800)
    result = compare(REAL[:800], nearer, farther, samples=50)
    assert result["fid"].better and result["kid"].better
    assert result["fid"].challenger == pytest.approx(16 * 0.3**2, rel=0.25)
    assert result["fid"].champion == pytest.approx(16 * 0.6**2, rel=0.25)
    reverse = compare(REAL[:800], farther, nearer, samples=50)
    assert reverse["fid"].worse and reverse["kid"].worse
    assert "(worse)" in reverse["fid"].summary()


def test_the_interval_is_seeded_and_widens_with_confidence():
    x, y = features(0.3, 1, 600), features(0.32, 2, 600)
    a = compare(REAL[:600], x, y, samples=30, seed=5)
    assert a == compare(REAL[:600], x, y, samples=30, seed=5)
    wide = compare(REAL[:600], x, y, samples=30, seed=5, confidence=0.99)
    assert wide["fid"].low <= a["fid"].low and wide["fid"].high >= a["fid"].high
    assert a["fid"].record()["samples"] == 30 and a["fid"].record()["confidence"] == 0.95


def test_memorisation_ratio_is_higher_is_better():
    """Generated images at median distance 0.7 of the real ones' from the training set copy
    more than ones at 1.0: worse beyond noise, and the reverse better; one sample against itself
    (resampled apart) is within noise."""
    rng = np.random.default_rng(0)
    real_nn = rng.normal(7, 0.5, 500)
    copier, honest = rng.normal(4.9, 0.5, 500), rng.normal(7, 0.5, 500)
    worse = compare_memorisation(real_nn, copier, honest, samples=50)
    assert worse.worse and not worse.better and not worse.lower_is_better
    assert worse.challenger == pytest.approx(0.7, abs=0.03) and worse.difference < 0
    assert worse.summary().startswith("memorisation ratio 0.69") and "(worse)" in worse.summary()
    assert compare_memorisation(real_nn, honest, copier, samples=50).better
    same = compare_memorisation(real_nn, honest, honest[::-1].copy(), samples=50)
    assert not same.better and not same.worse


def test_each_class_is_compared_and_only_a_worse_one_gets_an_interval():
    """Class b of the challenger is far off (FID about 16 * 1.5^2 = 36 against 1.4): worse
    beyond noise; class a, where it scores better, gets the point difference only."""
    real = {"a": features(0.0, 10, 400), "b": features(0.0, 11, 400)}
    challenger = {"a": features(0.2, 12, 400), "b": features(1.5, 13, 400)}
    champion = {"a": features(0.5, 14, 400), "b": features(0.3, 15, 400)}
    result = compare_classes(real, challenger, champion, samples=30)
    assert result["b"].worse and result["b"].samples == 30 and result["b"].low > 0
    assert not result["a"].worse and result["a"].samples == 0
    assert result["a"].low == result["a"].high == result["a"].difference < 0
    assert result["b"].summary().startswith("b FID ")


def test_a_class_with_too_few_images_for_a_fid_is_left_out():
    """16 feature dimensions: a class of 12 generated images has no FID, so no difference."""
    real = {"a": features(0.0, 10, 200), "b": features(0.0, 11, 200)}
    result = compare_classes(real, {"a": features(0.2, 12, 200), "b": features(0.2, 13, 12)},
                             {"a": features(0.5, 14, 200), "b": features(0.3, 15, 200)},
                             samples=10)  # fmt: skip
    assert set(result) == {"a"}
