"""Feature space `auto` (the default): the classifier for labelled data of 2 classes or more
whose classifier's held-out accuracy is well above chance (halfway from chance to perfect),
the FID Inception network otherwise; the choice and its reason are printed and recorded in
eval.json (``feature_space.chosen_because``)."""

from __future__ import annotations

from pipeline.evaluation.spaces import FEATURE_SPACES, FeatureSpace, SpaceContext
from pipeline.evaluation.spaces.classifier import classifier_verdict


@FEATURE_SPACES.register("auto")
def auto_space(context: SpaceContext) -> FeatureSpace:
    usable, why = classifier_verdict(context)
    space = FEATURE_SPACES.get("classifier" if usable else "inception")(context)
    space.chosen_because = f"evaluation.features=auto: {why}"
    return space
