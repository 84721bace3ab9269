"""Feature spaces: the networks whose features every FID-style score is computed in.

`evaluation.features` picks an entry of ``FEATURE_SPACES`` (one module each in this package):

    inception   the field's FID Inception network (paper-comparable; any data)
    classifier  a small CNN trained on the labelled data itself (fast on a CPU; class scores)
    auto        classifier for labelled data of 2+ classes whose held-out accuracy is well
                above chance, inception otherwise; the choice and its reason are printed and
                recorded

An entry is a factory ``(SpaceContext) -> FeatureSpace``; a space declares its input, feature
size and weights checksum, which go into the evaluation protocol, so that scores of two spaces
(or two sets of weights) are never compared. CONTRIBUTING.md shows how to add one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.plugins import Catalog, import_submodules


class FeatureSpace:
    """Images (prepared uint8, or generated float32 in [-1, 1]) -> features, and for a space
    that knows the data's classes, class probabilities."""

    name: str = ""
    feature_dim: int = 0
    input_description: str = ""  # what the network is fed (size, range, resize)
    weights_checksum: str = ""  # sha256 of the weights: part of the protocol
    has_classes: bool = False  # whether it predicts the data's classes (probabilities)
    chosen_because: str = ""  # set by `auto`: why this space was chosen for the data

    def features(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def features_and_probabilities(
        self, images: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(features float64 [N, D], class probabilities float64 [N, K] or None)."""
        return self.features(images), None

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.features_and_probabilities(images)

    def describe(self) -> dict[str, Any]:
        """What the protocol records of the space."""
        return {
            "feature_space": self.name,
            "feature_dim": self.feature_dim,
            "feature_input": self.input_description,
            "feature_weights_sha256": self.weights_checksum,
        }


@dataclass(frozen=True)
class SpaceContext:
    """What a space may need to open: the data's meta and the classifier stage's outputs."""

    data_meta: Mapping[str, Any]
    classifier_model: Path  # the classifier stage's model (absent when it was skipped)
    classifier_metrics: Path  # its metrics/classifier.json
    batch_size: int = 64


SpaceFactory = Callable[[SpaceContext], FeatureSpace]
FEATURE_SPACES: Catalog[SpaceFactory] = Catalog("feature space", "evaluation.features")


def open_space(name: str, context: SpaceContext) -> tuple[FeatureSpace, str]:
    """The space ``name`` names (``auto``: chosen from the data), and why it is the one."""
    import_submodules(__name__)  # each module of this package registers its space
    space = FEATURE_SPACES.get(name)(context)
    return space, space.chosen_because or f"evaluation.features={name}"
