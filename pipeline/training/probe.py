"""A quality signal during training: every N steps, KID and FID of a small sample from the
generator (the moving average when it is kept) against real test images, in the feature space
of the metrics' classifier. Cheap (a thousand images) and therefore noisier and, for FID,
biased upwards against the full evaluation: a trend to watch beside the losses, not a score to
report. The averaged generator's BatchNorm statistics are only recomputed at the end of
training, so with BatchNorm its probe reads slightly pessimistic until then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import MonitorConfig
from pipeline.errors import PipelineError
from pipeline.evaluation.metrics import (
    GaussianStats,
    frechet_distance,
    gaussian_stats,
    kernel_distance,
)
from pipeline.gan.sampling import sample

Extract = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # images -> (features, probs)
PROBE_KID_SUBSETS = 10


@dataclass
class QualityProbe:
    """Called with the GAN; returns ``{"probe_fid": ..., "probe_kid": ...}``."""

    COLUMNS = ("step", "probe_fid", "probe_kid")

    extract: Extract
    real_images: np.ndarray
    seed: int
    batch_size: int = 500
    real_features: np.ndarray = field(init=False)
    real_stats: GaussianStats = field(init=False)

    def __post_init__(self) -> None:
        self.real_features = self.extract(self.real_images)[0]
        self.real_stats = gaussian_stats(self.real_features)

    @classmethod
    def for_training(
        cls, monitor: MonitorConfig, classifier: Path, test_images: np.ndarray, seed: int
    ) -> QualityProbe | None:
        """The probe that ``monitor`` asks for (None when probe_every_steps is 0), scoring
        against the first probe_samples test images."""
        if not monitor.probe_every_steps:
            return None
        from pipeline.artifacts import CLASSIFIER_SKIPPED

        skipped = classifier.parent / CLASSIFIER_SKIPPED
        if not classifier.exists() and skipped.is_file():
            print("quality probe: off, the classifier stage trained no classifier for this data "
                  f"({skipped}); the probe's FID would need Inception features, too slow to "
                  "compute every few steps on a CPU")  # fmt: skip
            return None
        wanted = monitor.probe_samples
        if len(test_images) < wanted:
            print(
                f"quality probe: the test split holds {len(test_images)} images, fewer than "
                f"monitor.probe_samples={wanted}: the probe scores {len(test_images)}"
            )
        return cls.from_classifier(classifier, test_images[:wanted], seed)

    @classmethod
    def from_classifier(cls, path: Path, real_images: np.ndarray, seed: int) -> QualityProbe:
        """A probe in the feature space of the classifier saved at ``path`` (classifier stage),
        or a clear error when it is not there."""
        from pipeline.artifacts import load_keras_model
        from pipeline.evaluation.classifier import FeatureExtractor

        if not path.exists():
            raise PipelineError(
                f"the quality probe (monitor.probe_every_steps > 0) needs the metrics' "
                f"classifier, and {path} is not there",
                "run the classifier stage first (dvc repro classifier), "
                "or train without the probe: monitor.probe_every_steps=0",
            )
        extractor = FeatureExtractor(load_keras_model(path, "classifier"))
        extractor.check_fits(tuple(real_images.shape[1:]))  # now, not after the first steps
        if len(real_images) <= extractor.feature_dim:
            # As evaluate does (pipeline.evaluation.report.fid_caveat): scored, and said.
            print(
                f"quality probe: {len(real_images)} images in the classifier's "
                f"{extractor.feature_dim} feature dimensions: its FID is biased upwards (the "
                "curve still shows progress, and compares with runs probed alike); "
                f"monitor.probe_samples above {extractor.feature_dim} removes the bias"
            )
        return cls(extractor, real_images, seed)

    def __call__(self, gan: Any) -> dict[str, float]:
        import keras

        generator = gan.shipped_generator
        n = len(self.real_images)
        noise = np.random.default_rng(self.seed).standard_normal((n, gan.latent_dim))
        noise = noise.astype("float32")
        images = np.concatenate([
            keras.ops.convert_to_numpy(sample(generator, noise[i : i + self.batch_size]))
            for i in range(0, n, self.batch_size)
        ])  # fmt: skip
        features = self.extract(images)[0]
        kid, _ = kernel_distance(
            features, self.real_features, PROBE_KID_SUBSETS, min(n, 1000), seed=self.seed
        )
        fid = frechet_distance(gaussian_stats(features), self.real_stats)
        return {"probe_fid": fid, "probe_kid": kid}
