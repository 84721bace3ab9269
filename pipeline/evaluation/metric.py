"""What the catalog says of a metric (`pipeline.evaluation.catalog`), apart from the catalog
so that plug-in scores (`pipeline.evaluation.scores`) can describe themselves."""

from __future__ import annotations

from dataclasses import dataclass

# MLflow metric names: "<section>/<key>"
EVAL = "eval"  # the evaluate stage's scores
FLOOR = "floor"  # what real images score under the same protocol: the best to expect


@dataclass(frozen=True)
class Metric:
    key: str  # in eval.json; eval/<key> in MLflow
    name: str  # how people call it
    better: str  # "lower" or "higher"
    space: bool  # computed in the feature space (True) or not (pixels, a classifier's accuracy)
    unit: str
    meaning: str
    floor: bool = False  # reported beside what real images score (eval.json "floor")
    needs_classes: bool = False  # needs a space that predicts the data's classes
    objective: bool = False  # a sweep may minimise it (tune.objective)
    headline: bool = False  # a column of comparison tables (sweeps, CI)

    def shown(self, feature_space: str | None) -> str:
        """The name as people should read it: with its feature space when it depends on it."""
        return f"{self.name} ({feature_space})" if self.space and feature_space else self.name
