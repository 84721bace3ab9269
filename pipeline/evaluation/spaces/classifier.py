"""Feature space `classifier`: the penultimate layer of a small CNN trained on the labelled data
itself (the classifier stage), like TF-GAN's MNIST metrics. Fast on a CPU and it predicts the
data's classes (label accuracy, class coverage), but its features are class-discriminative,
its weights differ between machines, and its scores compare with no paper."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.evaluation.spaces import FEATURE_SPACES, FeatureSpace, SpaceContext
from pipeline.io import read_json


def chance_margin(num_classes: int) -> tuple[float, float]:
    """(chance accuracy, the accuracy `auto` asks for: halfway from chance to perfect)."""
    chance = 1.0 / num_classes
    return chance, chance + (1.0 - chance) / 2


def classifier_verdict(context: SpaceContext) -> tuple[bool, str]:
    """Whether the classifier's features can mean anything for this data, and why."""
    classes = len(context.data_meta.get("class_names") or [])
    if classes < 2:
        return False, (
            f"the data has {classes} class{'es' if classes != 1 else ''} (images without class "
            "sub-folders): a classifier of one class learns nothing, so the scores are in the "
            "FID Inception network's features"
        )
    if not context.classifier_model.exists() or not context.classifier_metrics.is_file():
        return False, f"no trained classifier at {context.classifier_model}: Inception features"
    accuracy = float(read_json(context.classifier_metrics).get("test_accuracy", 0.0))
    chance, wanted = chance_margin(classes)
    if accuracy < wanted:
        return False, (
            f"the classifier's held-out accuracy {accuracy:.3f} on {classes} classes is not well "
            f"above chance ({chance:.3f}; auto wants >= {wanted:.3f}): Inception features"
        )
    return True, (
        f"labelled data of {classes} classes, and the classifier's held-out accuracy "
        f"{accuracy:.3f} is well above chance ({chance:.3f}; auto wants >= {wanted:.3f}): "
        "the classifier's features"
    )


class ClassifierSpace(FeatureSpace):
    name = "classifier"
    has_classes = True

    def __init__(self, extractor: Any) -> None:
        self.extractor = extractor  # pipeline.evaluation.classifier.FeatureExtractor
        self.feature_dim = extractor.feature_dim
        self.weights_checksum = extractor.checksum
        shape = "x".join(str(s) for s in extractor.classifier.input_shape[1:])
        self.input_description = (
            f"{shape} images in [-1, 1]; the {self.feature_dim}-d penultimate layer of the "
            "data's own classifier"
        )

    def features(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.extractor(images)[0])

    def features_and_probabilities(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features, probs = self.extractor(images)
        return features, probs


@FEATURE_SPACES.register("classifier")
def classifier_space(context: SpaceContext) -> ClassifierSpace:
    from pipeline.artifacts import load_keras_model
    from pipeline.errors import PipelineError
    from pipeline.evaluation.classifier import FeatureExtractor

    usable, why = classifier_verdict(context)
    classes = len(context.data_meta.get("class_names") or [])
    if classes < 2 or not context.classifier_model.exists():  # it cannot have learned anything
        raise PipelineError(
            f"evaluation.features=classifier cannot score this data: {why.split(':')[0]}",
            "use evaluation.features=inception (or auto, which chooses for the data)",
        )
    if not usable:  # asked for by name: honoured, with what the scores are worth
        print(f"warning: evaluation.features=classifier: {why.split(':')[0]}; scores in its "
              "features say little (auto would score in Inception)")  # fmt: skip
    model = load_keras_model(context.classifier_model, "classifier")
    return ClassifierSpace(FeatureExtractor(model, context.batch_size))
