"""Is a challenger better than the champion beyond noise? A paired bootstrap of the FID and KID
differences under one protocol, and of what may veto a better FID: the memorisation ratio and
each class's FID.

Both generators were scored against the same real features; each bootstrap sample resamples the
real set and both generated sets (with replacement) and recomputes both scores against the one
resampled real set, so the real set's own noise is shared and cancels as it does in the
comparison people make. The percentile interval of (challenger - champion) at ``confidence``
then says whether the difference could be noise: lower is better for both scores, so an interval
wholly below 0 is a real improvement, wholly above 0 a real loss. (Two seeds of one config
differ by about as much as many tweaks gain: without the interval every such tweak would be
promoted.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pipeline.evaluation import metrics as m
from pipeline.io import progress


@dataclass(frozen=True)
class Difference:
    """challenger - champion for one score (lower is better), with its bootstrap interval."""

    metric: str
    challenger: float
    champion: float
    difference: float
    low: float
    high: float
    confidence: float
    samples: int
    lower_is_better: bool = True  # False for the memorisation ratio

    @property
    def better(self) -> bool:
        """The challenger is better beyond noise: the whole interval is on the better side of 0."""
        return self.high < 0 if self.lower_is_better else self.low > 0

    @property
    def worse(self) -> bool:
        return self.low > 0 if self.lower_is_better else self.high < 0

    def summary(self) -> str:
        verdict = "better" if self.better else "worse" if self.worse else "within noise"
        name = self.metric.upper() if len(self.metric) <= 3 else self.metric.replace("_", " ")
        return (
            f"{name} {self.challenger:.3f} vs {self.champion:.3f}: difference "
            f"{self.difference:+.3f}, {self.confidence:.0%} interval [{self.low:+.3f}, "
            f"{self.high:+.3f}] ({verdict})"
        )

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "better": self.better, "worse": self.worse}


def _resample(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """A bootstrap sample of ``x``: as many rows, drawn with replacement."""
    return x[rng.integers(len(x), size=len(x))]


def _fid(real: np.ndarray | m.GaussianStats, fake: np.ndarray) -> float:
    stats = real if isinstance(real, m.GaussianStats) else m.gaussian_stats(real)
    return m.frechet_distance(m.gaussian_stats(fake), stats)


def _kid(real: np.ndarray, fake: np.ndarray) -> float:
    """Unbiased MMD^2 with KID's cubic kernel, on the sets as given."""
    x, y = np.asarray(fake, np.float64), np.asarray(real, np.float64)
    d, n = x.shape[1], len(x)
    k_xx, k_yy, k_xy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    off = n * (n - 1)
    return float(
        (k_xx.sum() - np.trace(k_xx)) / off + (k_yy.sum() - np.trace(k_yy)) / off - 2 * k_xy.mean()
    )


def compare(
    real: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    samples: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    kid_subset_size: int = 1000,
) -> dict[str, Difference]:
    """FID and KID differences of two generated feature sets against one real set, each with a
    paired bootstrap interval over ``samples`` resamples (seeded: the same inputs give the same
    interval). Each resample's KID takes ``kid_subset_size`` images of each set (the
    protocol's `evaluation.kid_subset_size`)."""
    rng = np.random.default_rng(seed)
    kid_size = min(kid_subset_size, len(real), len(challenger), len(champion))
    draws: dict[str, list[float]] = {"fid": [], "kid": []}
    kid_points = []
    # seconds a resample in 2,048 Inception dimensions on a CPU: shown when it takes a while
    bar = progress(samples, "bootstrap", "resample", show=real.shape[1] >= 512)
    for _ in range(samples):
        bar.update(1)  # before the draw: a step of the bar is a resample begun
        r = _resample(rng, real)
        c = _resample(rng, challenger)
        h = _resample(rng, champion)
        real_stats = m.gaussian_stats(r)
        draws["fid"].append(_fid(real_stats, c) - _fid(real_stats, h))
        rk, ck, hk = r[:kid_size], c[:kid_size], h[:kid_size]  # already in random order
        kid_c, kid_h = _kid(rk, ck), _kid(rk, hk)
        kid_points.append((kid_c, kid_h))
        draws["kid"].append(kid_c - kid_h)
    bar.close()
    points = {
        "fid": (_fid(real, challenger), _fid(real, champion)),
        "kid": tuple(np.mean(kid_points, axis=0)),  # KID is itself a mean over subsets
    }
    return {
        metric: _difference(metric, points[metric][0], points[metric][1], values, confidence)
        for metric, values in draws.items()
    }


def compare_memorisation(
    real_nn: np.ndarray,
    challenger_nn: np.ndarray,
    champion_nn: np.ndarray,
    samples: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> Difference:
    """The memorisation ratio (median distance of generated images to their nearest training
    image over the same for real test images; higher is better: below 1, generated images sit
    nearer the training data than unseen real images do) of two generators, from the
    nearest-neighbour distances evaluate logged, the real ones shared."""
    rng = np.random.default_rng(seed)

    def ratio(fake: np.ndarray, real: np.ndarray) -> float:
        return float(np.median(fake) / np.median(real))

    values = []
    for _ in range(samples):
        r = _resample(rng, real_nn)
        c = _resample(rng, challenger_nn)
        h = _resample(rng, champion_nn)
        values.append(ratio(c, r) - ratio(h, r))
    ours, theirs = ratio(challenger_nn, real_nn), ratio(champion_nn, real_nn)
    return _difference("memorisation_ratio", ours, theirs, values, confidence, higher=True)


def compare_classes(
    real: Mapping[str, np.ndarray],
    challenger: Mapping[str, np.ndarray],
    champion: Mapping[str, np.ndarray],
    samples: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Difference]:
    """Per class (the keys of ``real``), the FID difference of the two generators' images of
    that class against the real test images of that class. Only classes where the challenger's
    FID is higher get an interval (the bootstrap costs about 15 ms a class and resample): a
    class it scores better on cannot be worse beyond noise, and its interval is [d, d]. A class
    with no more images in one of the sets than the features have dimensions has no FID and is
    left out of the result."""
    rng = np.random.default_rng(seed)
    result = {}
    for name, r in real.items():
        c, h = challenger[name], champion[name]
        if min(len(r), len(c), len(h)) <= r.shape[1]:
            continue
        ours, theirs = _fid(r, c), _fid(r, h)
        if ours <= theirs:
            d = ours - theirs
            result[name] = Difference(f"{name} FID", ours, theirs, d, d, d, confidence, 0)
            continue
        values = []
        for _ in range(samples):
            stats = m.gaussian_stats(_resample(rng, r))
            values.append(_fid(stats, _resample(rng, c)) - _fid(stats, _resample(rng, h)))
        result[name] = _difference(f"{name} FID", ours, theirs, values, confidence)
    return result


def _difference(
    metric: str, ours: float, theirs: float, values: Any, confidence: float, higher: bool = False
) -> Difference:
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return Difference(
        metric, float(ours), float(theirs), float(ours - theirs), float(low), float(high),
        confidence, len(values), lower_is_better=not higher,
    )  # fmt: skip
