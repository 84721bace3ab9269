"""Is a challenger better than the champion beyond noise? A paired bootstrap of the FID and KID
differences under one protocol.

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

from dataclasses import asdict, dataclass

import numpy as np

from pipeline.evaluation import metrics as m

KID_SUBSET = 1000  # images of each set per bootstrap sample's KID (the protocol's subset size)


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

    @property
    def better(self) -> bool:
        """The challenger is better beyond noise: the whole interval is below 0."""
        return self.high < 0

    @property
    def worse(self) -> bool:
        return self.low > 0

    def summary(self) -> str:
        verdict = "better" if self.better else "worse" if self.worse else "within noise"
        return (
            f"{self.metric.upper()} {self.challenger:.3f} vs {self.champion:.3f}: difference "
            f"{self.difference:+.3f}, {self.confidence:.0%} interval [{self.low:+.3f}, "
            f"{self.high:+.3f}] ({verdict})"
        )

    def record(self) -> dict:
        return {**asdict(self), "better": self.better, "worse": self.worse}


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
) -> dict[str, Difference]:
    """FID and KID differences of two generated feature sets against one real set, each with a
    paired bootstrap interval over ``samples`` resamples (seeded: the same inputs give the same
    interval)."""
    rng = np.random.default_rng(seed)
    kid_size = min(KID_SUBSET, len(real), len(challenger), len(champion))
    draws: dict[str, list[float]] = {"fid": [], "kid": []}
    kid_points = []
    for _ in range(samples):
        r = real[rng.integers(len(real), size=len(real))]
        c = challenger[rng.integers(len(challenger), size=len(challenger))]
        h = champion[rng.integers(len(champion), size=len(champion))]
        real_stats = m.gaussian_stats(r)
        draws["fid"].append(_fid(real_stats, c) - _fid(real_stats, h))
        rk, ck, hk = r[:kid_size], c[:kid_size], h[:kid_size]  # already in random order
        kid_c, kid_h = _kid(rk, ck), _kid(rk, hk)
        kid_points.append((kid_c, kid_h))
        draws["kid"].append(kid_c - kid_h)
    tail = (1 - confidence) / 2
    points = {
        "fid": (_fid(real, challenger), _fid(real, champion)),
        "kid": tuple(np.mean(kid_points, axis=0)),  # KID is itself a mean over subsets
    }
    result = {}
    for metric, values in draws.items():
        low, high = np.quantile(values, [tail, 1 - tail])
        ours, theirs = points[metric]
        result[metric] = Difference(
            metric, float(ours), float(theirs), float(ours - theirs), float(low), float(high),
            confidence, samples,
        )  # fmt: skip
    return result
