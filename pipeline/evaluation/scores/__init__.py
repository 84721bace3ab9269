"""Scores of feature sets, as plug-ins: a module in this package registers a `FeatureScore`, a
function of the generated and the real images' features in the evaluation's feature space,
with the `Metric` that names it. Every evaluation then computes it (eval.json, its floor for
real images, MLflow `eval/<key>`), and the metric catalog lists it beside the built-in scores
(model card, docs/metrics.md, `tune.objective` when it is one). CONTRIBUTING.md shows how:

    @feature_score(Metric("mean_distance", "mean distance", "lower", True, "feature units",
                          "distance between the mean features", floor=True))
    def mean_distance(generated: np.ndarray, real: np.ndarray) -> float:
        return float(np.linalg.norm(generated.mean(0) - real.mean(0)))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.evaluation.metric import Metric
from pipeline.plugins import Catalog, import_submodules

Compute = Callable[[np.ndarray, np.ndarray], float]  # (generated, real) features -> the score


@dataclass(frozen=True)
class FeatureScore:
    metric: Metric
    compute: Compute


FEATURE_SCORES: Catalog[FeatureScore] = Catalog("score", "evaluation")


def feature_score(metric: Metric) -> Callable[[Compute], Compute]:
    """Register the decorated function as the score ``metric`` describes (its key names it)."""

    def register(compute: Compute) -> Compute:
        FEATURE_SCORES.add(metric.key, FeatureScore(metric, compute))
        return compute

    return register


def plug_in_scores(generated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Every registered score of ``generated`` against ``real`` features."""
    return {name: float(FEATURE_SCORES.get(name).compute(generated, real))
            for name in FEATURE_SCORES.names()}  # fmt: skip


import_submodules(__name__)
