"""FID-style metrics on feature vectors. Plain NumPy, float64, no model code.

References: FID, Heusel et al. 2017; KID, Binkowski et al. 2018; precision/recall,
Kynkaanniemi et al. 2019 (k=3); density/coverage, Naeem et al. 2020 (k=5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.data.prepared import normalize


class TooFewSamples(ValueError):
    pass


# --- Frechet distance -------------------------------------------------------------------------


@dataclass
class GaussianStats:
    mu: np.ndarray
    sigma: np.ndarray
    n: int
    # (x - mu) / sqrt(n - 1), kept when n <= dimensions: sigma = centred.T @ centred, and the
    # Frechet distance's trace term comes from the small n x n products (trace_sqrt_product)
    centred: np.ndarray | None = None


def gaussian_stats(features: np.ndarray) -> GaussianStats:
    """Mean and covariance. With no more samples than dimensions the covariance is singular:
    the Frechet distance is still defined (clean-fid and torch-fidelity compute it), but
    strongly biased upwards; callers say so (`pipeline.evaluation.report.fid_caveat`)."""
    x = np.asarray(features, dtype=np.float64)
    n, d = x.shape
    if n < 2:
        raise TooFewSamples(f"FID needs at least 2 samples, got {n}")
    mu = x.mean(axis=0)
    centred = (x - mu) / np.sqrt(n - 1) if n <= d else None
    return GaussianStats(mu, np.cov(x, rowvar=False), n, centred)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix through its eigendecomposition."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    root: np.ndarray = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T
    return root


def trace_sqrt_product(a: GaussianStats, b: GaussianStats) -> float:
    """tr sqrt(S_a S_b).

    It equals tr sqrt(S_a^1/2 S_b S_a^1/2), whose argument is symmetric PSD, so eigh gives it
    stably (as TF-GAN's trace_sqrt_product does) without scipy.linalg.sqrtm's complex
    round-off. With few samples (S_a = A^T A, S_b = B^T B for the centred samples A, B), the
    nonzero eigenvalues of S_a S_b are the squared singular values of A B^T, so the trace is
    that small matrix's nuclear norm: exact, and milliseconds where 2048 x 2048
    eigendecompositions take seconds (Inception features of a small folder).
    """
    if a.centred is not None and b.centred is not None:
        return float(np.linalg.svd(a.centred @ b.centred.T, compute_uv=False).sum())
    root_a = _sqrt_psd(a.sigma)
    middle = root_a @ b.sigma @ root_a
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum())


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr sqrt(S_a S_b)."""
    diff = a.mu - b.mu
    value = diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * trace_sqrt_product(a, b)
    return float(max(value, 0.0))


# --- Kernel inception distance ----------------------------------------------------------------


def kernel_distance(
    x: np.ndarray, y: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Unbiased MMD^2 with the cubic kernel (x.y / d + 1)^3: mean and std over random subsets."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise TooFewSamples(f"KID needs at least 2 samples per set, got {m}")
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        k_aa = (a @ a.T / d + 1) ** 3
        k_bb = (b @ b.T / d + 1) ** 3
        k_ab = (a @ b.T / d + 1) ** 3
        # Leave out the diagonals: that is what makes the estimate unbiased.
        values[i] = (
            (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
            + (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
            - 2 * k_ab.mean()
        )
    return float(values.mean()), float(values.std())


# --- Precision, recall, density, coverage -----------------------------------------------------


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2 * (a @ b.T)
    return np.asarray(np.maximum(d, 0))


def knn_radii(x: np.ndarray, k: int, chunk: int = 1000) -> np.ndarray:
    """Squared distance from each point to its k-th nearest neighbour in x (itself excluded)."""
    radii = np.empty(len(x))
    for start in range(0, len(x), chunk):
        d = _squared_distances(x[start : start + chunk], x)
        # Position 0 of each sorted row is the point itself (distance 0).
        radii[start : start + chunk] = np.partition(d, k, axis=1)[:, k]
    return radii


def prdc(
    real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5, chunk: int = 1000
) -> dict[str, float]:
    """Precision and recall (k-NN manifolds, k_pr) and density and coverage (k_dc)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if min(len(real), len(fake)) <= max(k_pr, k_dc):
        raise TooFewSamples(f"PRDC needs more than {max(k_pr, k_dc)} samples per set")
    real_r_pr, real_r_dc = knn_radii(real, k_pr, chunk), knn_radii(real, k_dc, chunk)
    fake_r_pr = knn_radii(fake, k_pr, chunk)

    precise = np.zeros(len(fake), bool)
    recalled = np.zeros(len(real), bool)
    density_count = 0.0
    nearest_fake = np.full(len(real), np.inf)
    for start in range(0, len(fake), chunk):
        d = _squared_distances(fake[start : start + chunk], real)  # fake rows x real columns
        precise[start : start + chunk] = (d <= real_r_pr[None, :]).any(axis=1)
        recalled |= (d <= fake_r_pr[start : start + chunk, None]).any(axis=0)
        density_count += (d <= real_r_dc[None, :]).sum()
        nearest_fake = np.minimum(nearest_fake, d.min(axis=0))
    return {
        "precision": float(precise.mean()),
        "recall": float(recalled.mean()),
        "density": float(density_count / (k_dc * len(fake))),
        "coverage": float((nearest_fake <= real_r_dc).mean()),
    }


# --- Classifier-based -------------------------------------------------------------------------


def classifier_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """The Inception Score computed with our classifier: exp E_x KL(p(y|x) || p(y))."""
    probs = np.asarray(probs, np.float64)
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def class_histogram(probs: np.ndarray, num_classes: int) -> np.ndarray:
    return np.bincount(np.argmax(probs, axis=1), minlength=num_classes)


def classes_covered(counts: np.ndarray, min_share: float = 0.1) -> int:
    """Classes that get at least ``min_share`` of their fair share (N / classes) of samples:
    a collapsed generator covers 1, a good one all of them."""
    fair = counts.sum() / len(counts)
    return int((counts >= min_share * fair).sum())


# --- Memorisation -----------------------------------------------------------------------------


def nearest_neighbours(
    queries: np.ndarray, reference: np.ndarray, chunk: int = 10000
) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the Euclidean distance to and index of its nearest reference row
    (prepared uint8 images are taken in [-1, 1], as generated ones are)."""
    q = normalize(queries).reshape(len(queries), -1)
    best = np.full(len(q), np.inf, np.float32)
    index = np.zeros(len(q), np.int64)
    for start in range(0, len(reference), chunk):
        r = normalize(reference[start : start + chunk]).reshape(-1, q.shape[1])
        d = _squared_distances(q, r)
        arg = d.argmin(axis=1)
        value = d[np.arange(len(q)), arg]
        better = value < best
        best[better], index[better] = value[better], arg[better] + start
    return np.sqrt(best).astype(np.float64), index
