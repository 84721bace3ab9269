"""The champion-vs-challenger comparison (pipeline.evaluation.compare): two samples of one
distribution are within noise, a generator clearly nearer the real features is better, and the
interval is the bootstrap's, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation.compare import compare

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
