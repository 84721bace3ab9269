"""CONTRIBUTING.md's recipes for the metrics, followed as written: a feature space is one module
registering a factory; once registered, `evaluation.features=<name>` scores in it, and the
protocol names it (so its scores never compare with another space's). A score of feature sets
is one module registering a function and its Metric; every evaluation then computes it."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from pipeline.config import validate
from pipeline.evaluation.metric import Metric
from pipeline.evaluation.run import evaluate_generator
from pipeline.evaluation.scores import FEATURE_SCORES, FeatureScore
from pipeline.evaluation.spaces import FEATURE_SPACES, FeatureSpace, SpaceContext, open_space
from pipeline.stages.evaluate import EvaluateConfig
from tests.helpers.configs import compose_config


# --- the recipe's module: pipeline/evaluation/spaces/<name>.py ----------------------------------
class PixelSpace(FeatureSpace):
    """Average-pooled pixels: a toy space with no weights to learn."""

    name = "pixels"
    feature_dim = 16
    input_description = "4x4 average-pooled grey pixels in [-1, 1]"
    weights_checksum = hashlib.sha256(b"no weights").hexdigest()

    def features(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float64)
        if x.dtype != np.float32 and x.max() > 1:  # prepared uint8
            x = x / 127.5 - 1
        x = x.mean(axis=-1)
        n, h, w = x.shape
        return x.reshape(n, 4, h // 4, 4, w // 4).mean(axis=(2, 4)).reshape(n, 16)


def make_pixels(context: SpaceContext) -> FeatureSpace:
    return PixelSpace()


META = {"dataset": "image_folder", "checksum": "abc", "class_names": ["all"]}
SMALL = ["evaluation.num_generated=40", "evaluation.num_real=40", "evaluation.kid_subsets=2",
         "evaluation.kid_subset_size=20", "evaluation.memorisation_samples=5"]  # fmt: skip


def evaluate(space: FeatureSpace, settings, folder) -> dict:
    """A toy generator scored against random 8x8 images, as the evaluate stage scores one."""
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (120, 8, 8, 1), dtype=np.uint8)
    test = rng.integers(0, 256, (60, 8, 8, 1), dtype=np.uint8)

    def generate(noise: np.ndarray) -> np.ndarray:
        return np.tanh(noise[:, :64].reshape(-1, 8, 8, 1)).astype("float32")

    return evaluate_generator(generate, 64, space, train, test, META, settings, folder).result


def test_a_feature_space_added_as_the_recipe_says_scores_and_names_the_protocol(tmp_path):
    overrides = ["evaluation.features=pixels", *SMALL]
    settings = validate(compose_config(overrides), EvaluateConfig).evaluation
    with FEATURE_SPACES.temporarily("pixels", make_pixels):
        space, why = open_space(settings.features, SpaceContext(META, tmp_path, tmp_path))
        result = evaluate(space, settings, tmp_path)
    assert why == "evaluation.features=pixels"
    assert (
        result["protocol"]["feature_space"] == "pixels" and "pixels" in result["protocol"]["name"]
    )
    assert result["feature_space"]["feature_dim"] == 16
    assert np.isfinite(result["fid"]) and result["fid"] > result["floor"]["fid"]
    assert "label_accuracy" not in result  # the space predicts no classes
    assert dataclasses.is_dataclass(settings)


# --- the recipe's module: pipeline/evaluation/scores/<name>.py ----------------------------------
MEAN_DISTANCE = Metric("mean_distance", "mean distance", "lower", True, "feature units",
                       "distance between the generated and the real mean features", floor=True)  # fmt: skip


def mean_distance(generated: np.ndarray, real: np.ndarray) -> float:
    return float(np.linalg.norm(generated.mean(axis=0) - real.mean(axis=0)))


def test_a_metric_added_as_the_recipe_says_is_computed_with_its_floor(tmp_path):
    """Registered as the recipe registers it, a score of feature sets is in eval.json beside
    FID, and real images get it too (the floor)."""
    settings = validate(compose_config(SMALL), EvaluateConfig).evaluation
    assert "mean_distance" not in FEATURE_SCORES
    with FEATURE_SCORES.temporarily("mean_distance", FeatureScore(MEAN_DISTANCE, mean_distance)):
        result = evaluate(PixelSpace(), settings, tmp_path)
    assert result["mean_distance"] > result["floor"]["mean_distance"] >= 0
    assert np.isclose(mean_distance(np.zeros((2, 3)), np.ones((2, 3))), np.sqrt(3)), "closed form"
