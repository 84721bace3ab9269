"""Do the metrics move the right way? Real images, degraded step by step, scored against other
real images of the same data in a feature space (Heusel et al. 2017, figure 3; torch-fidelity
and clean-fid test their metrics so).

Expected, in every feature space: FID and KID rise with each stronger Gaussian noise, blur or
JPEG compression and with each more classes (modes) dropped; precision falls with noise; recall
and coverage fall with dropped modes; the undegraded images (another real split) sit at the
floor. ``benchmarks/metric_sanity.py`` writes the table and plot of docs/metrics.md;
tests/unit/evaluation/test_sanity.py and tests/integration/test_metric_sanity.py check them.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.evaluation import metrics as m

# degradation -> its levels, mildest first (level 0, none, is the floor every series starts at)
LEVELS: dict[str, tuple[float, ...]] = {
    "noise": (16, 48),  # Gaussian noise, standard deviation in uint8 steps
    "blur": (1.0, 2.0),  # Gaussian blur, sigma in pixels
    "jpeg": (30, 8),  # JPEG quality
    "modes": (0.5, 0.8),  # share of the classes dropped (the rest fill the sample)
}
SCORES = ("fid", "kid_mean", "precision", "recall", "coverage")


def degrade(images: np.ndarray, kind: str, level: float, seed: int = 0) -> np.ndarray:
    """uint8 images [N, H, W, C] degraded by ``kind`` at ``level`` (not "modes")."""
    rng = np.random.default_rng(seed)
    x: np.ndarray = images.astype(np.float64)
    if kind == "noise":
        x = x + rng.normal(0, level, x.shape)
    elif kind == "blur":
        from scipy.ndimage import gaussian_filter

        x = gaussian_filter(x, sigma=(0, level, level, 0))
    elif kind == "jpeg":
        return np.stack([_jpeg(image, int(level)) for image in images])
    else:
        raise ValueError(f"unknown degradation {kind!r}")
    return np.asarray(np.clip(np.rint(x), 0, 255), dtype=np.uint8)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    grey = image.shape[-1] == 1
    picture = Image.fromarray(image[..., 0] if grey else image)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.uint8)
    return decoded[..., None] if grey else decoded


def drop_modes(
    images: np.ndarray, labels: np.ndarray, share: float, n: int, seed: int = 0
) -> np.ndarray:
    """``n`` images drawn from the classes left after dropping ``share`` of them (the highest
    class numbers first): the same sample size, less variety."""
    classes = np.unique(labels)
    kept = classes[: max(1, round(len(classes) * (1 - share)))]
    pool = np.flatnonzero(np.isin(labels, kept))
    return np.asarray(images[np.random.default_rng(seed).choice(pool, n, replace=len(pool) < n)])


@dataclass(frozen=True)
class Row:
    degradation: str  # "none" (the floor), or a LEVELS key
    level: float
    scores: dict[str, float]


def sanity_grid(
    features: Callable[[np.ndarray], np.ndarray],
    reference: np.ndarray,
    candidates: np.ndarray,
    candidate_labels: np.ndarray,
    levels: dict[str, Sequence[float]] | None = None,
    kid_subsets: int = 20,
    seed: int = 0,
) -> list[Row]:
    """Scores of ``candidates`` (real images other than ``reference``), undegraded and at each
    level of each degradation, against ``reference``, in the space ``features`` computes."""
    chosen: dict[str, Sequence[float]] = dict(levels or LEVELS)
    n = len(candidates)
    real = features(reference)
    real_stats = m.gaussian_stats(real)

    def scores(images: np.ndarray) -> dict[str, float]:
        fake = features(images)
        kid, _ = m.kernel_distance(fake, real, kid_subsets, min(n, len(real), 1000), seed)
        prdc = m.prdc(real, fake)
        fid = m.frechet_distance(m.gaussian_stats(fake), real_stats)
        return {"fid": fid, "kid_mean": kid, **{k: prdc[k] for k in SCORES[2:]}}

    rows = [Row("none", 0.0, scores(candidates))]
    for kind, steps in chosen.items():
        for level in steps:
            if kind == "modes":
                images = drop_modes(candidates, candidate_labels, level, n, seed)
            else:
                images = degrade(candidates, kind, level, seed)
            rows.append(Row(kind, float(level), scores(images)))
    return rows


def series(rows: Sequence[Row], kind: str, score: str) -> list[float]:
    """``score`` from the floor through each level of ``kind``."""
    return [rows[0].scores[score]] + [r.scores[score] for r in rows if r.degradation == kind]


def violations(rows: Sequence[Row], kid_blind_to: Sequence[str] = ()) -> list[str]:
    """What moved the wrong way (empty: the metrics behave). ``kid_blind_to``: degradations
    KID is not asked to follow (a space whose KID noise is larger than what they change)."""
    wrong = []
    for kind in sorted({r.degradation for r in rows} - {"none"}):
        for score in ("fid", "kid_mean"):
            if score == "kid_mean" and kind in kid_blind_to:
                continue
            values = series(rows, kind, score)
            if any(b <= a for a, b in itertools.pairwise(values)):
                wrong.append(f"{score} does not rise with {kind}: {np.round(values, 4).tolist()}")
    checks = [("noise", "precision"), ("modes", "recall"), ("modes", "coverage")]
    for kind, score in checks:
        values = series(rows, kind, score)
        if len(values) > 1 and not values[-1] < values[0]:
            wrong.append(f"{score} does not fall with {kind}: {np.round(values, 4).tolist()}")
    return wrong
