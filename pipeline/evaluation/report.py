"""Scoring a generator against real data under a stated protocol. No DVC or MLflow here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.evaluation import metrics as m
from pipeline.evaluation.scores import plug_in_scores
from pipeline.evaluation.spaces import FeatureSpace
from pipeline.io import atomic_path, progress

Extractor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Protocol:
    """What defines the yardstick, and nothing about how the generator was trained: the real
    data scored against, the feature space and its weights, the sample counts and KID's
    subsets. Only scores under equal protocols compare."""

    dataset: str
    dataset_checksum: str
    real_split: str
    num_real: int
    num_generated: int
    feature_space: str
    feature_weights_sha256: str
    kid_subsets: int
    kid_subset_size: int

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def name(self) -> str:
        """How people read it: "inception, 10,000 generated vs 10,000 test images"."""
        return (
            f"{self.feature_space}, {self.num_generated:,} generated vs {self.num_real:,} "
            f"{self.real_split} images"
        )


@dataclass
class RealReference:
    """Features of the real images a generator is compared with, computed once and cached."""

    features: np.ndarray
    probs: np.ndarray | None
    stats: m.GaussianStats

    @classmethod
    def load_or_compute(
        cls, images: np.ndarray, extractor: Extractor | FeatureSpace, cache_file: Path | None
    ) -> RealReference:
        if cache_file is not None and cache_file.is_file():
            with np.load(cache_file) as cached:
                features = cached["features"]
                probs = cached["probs"] if "probs" in cached.files else None
        else:
            features, probs = extractor(images)
            if cache_file is not None:
                with atomic_path(cache_file) as tmp:
                    if probs is None:
                        np.savez(tmp, features=features)
                    else:
                        np.savez(tmp, features=features, probs=probs)
        return cls(features, probs, m.gaussian_stats(features))


def score(
    fake_features: np.ndarray,
    fake_probs: np.ndarray | None,
    real: RealReference,
    num_classes: int,
    kid_subsets: int,
    kid_subset_size: int,
    seed: int,
) -> dict[str, Any]:
    """FID, KID, precision/recall/density/coverage; with class probabilities (a space that
    predicts the data's classes) also the classifier score and class coverage."""
    fid = m.frechet_distance(m.gaussian_stats(fake_features), real.stats)
    kid_mean, kid_std = m.kernel_distance(
        fake_features, real.features, kid_subsets, kid_subset_size, seed
    )
    result = {
        "fid": fid,
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        **m.prdc(real.features, fake_features),
        **plug_in_scores(fake_features, real.features),  # pipeline/evaluation/scores/
    }
    if fake_probs is not None:
        cs_mean, cs_std = m.classifier_score(fake_probs)
        counts = m.class_histogram(fake_probs, num_classes)
        result.update(
            classifier_score=cs_mean, classifier_score_std=cs_std,
            classes_covered=m.classes_covered(counts), class_counts=counts.tolist(),
        )  # fmt: skip
    return result


def generate_images(
    generate: Callable[[np.ndarray], np.ndarray],
    n: int,
    latent_dim: int,
    seed: int,
    batch_size: int = 1000,
) -> np.ndarray:
    """``n`` images from seeded noise, in batches, with a progress bar."""
    rng = np.random.default_rng(seed)
    batches = []
    with progress(n, "generate") as bar:
        for start in range(0, n, batch_size):
            noise = rng.standard_normal((min(batch_size, n - start), latent_dim)).astype("float32")
            batches.append(np.asarray(generate(noise), dtype=np.float32))
            bar.update(len(noise))
    return np.concatenate(batches)


@dataclass
class Memorisation:
    """How close generated images come to training images, against how close real test
    images come: a ratio well below 1 means the generator copies its training data."""

    fake_distances: np.ndarray
    fake_neighbours: np.ndarray
    real_distances: np.ndarray

    @property
    def ratio(self) -> float:
        return float(np.median(self.fake_distances) / np.median(self.real_distances))

    def summary(self) -> dict[str, float]:
        return {
            "nn_distance_generated_median": float(np.median(self.fake_distances)),
            "nn_distance_real_median": float(np.median(self.real_distances)),
            "nn_distance_generated_min": float(self.fake_distances.min()),
            "memorisation_ratio": self.ratio,
        }


def memorisation(
    fake: np.ndarray, real_test: np.ndarray, train: np.ndarray, samples: int
) -> Memorisation:
    fake_d, fake_i = m.nearest_neighbours(fake[:samples], train)
    real_d, _ = m.nearest_neighbours(real_test[:samples], train)
    return Memorisation(fake_d, fake_i, real_d)


def real_sample_size(num_real: int | None, available: int, split: str = "test") -> int:
    """The real images to score against: ``num_real`` (None: all), or all the split holds when
    that is fewer (said in one line; the protocol records the number used)."""
    if num_real is None:
        return available
    if num_real <= available:
        return num_real
    print(
        f"evaluation: the {split} split holds {available} images, fewer than evaluation.num_real="
        f"{num_real}: scoring against all {available} (the protocol records it: compare only "
        "runs scored on the same number)"
    )
    return available


def check_sample_sizes(num_real: int, num_generated: int) -> None:
    for key, n in (("num_real", num_real), ("num_generated", num_generated)):
        if n < 10:
            raise PipelineError(
                f"evaluation.{key}: {n} images are too few to score (precision, recall and "
                "coverage need k-nearest neighbours; FID a covariance)",
                "score at least 10 images (more test images: a larger dataset.test_fraction, "
                "or evaluation.real_split=train)",
            )


def fid_caveat(num_real: int, num_generated: int, feature_dim: int) -> str | None:
    """What to know about a FID whose samples are no more than the feature dimensions (None:
    nothing): its covariances are singular, so it is biased strongly upwards."""
    fewest = min(num_real, num_generated)
    if fewest > feature_dim:
        return None
    return (
        f"{fewest:,} images against {feature_dim:,} feature dimensions: the covariances are "
        "singular and FID is biased strongly upwards; it compares only at the same numbers "
        "(the protocol), and KID, unbiased, is the score to read"
    )


def fid_missing(real: int, generated: int, feature_dim: int) -> str | None:
    """Why a FID cannot be computed from these sample sizes (None: it can)."""
    fewest = min(real, generated)
    if fewest > feature_dim:
        return None
    return (
        f"{fewest} {'real' if real <= generated else 'generated'} images, not more than the "
        f"{feature_dim} feature dimensions: FID needs more images than features"
    )
