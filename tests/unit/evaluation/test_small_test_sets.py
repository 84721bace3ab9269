"""A test split smaller than evaluation.num_real (a small folder's 10%): evaluation scores
against what exists and says so, the protocol records the number used, and a per-class FID that
cannot be computed says why instead of a bare null."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.evaluation import report
from pipeline.evaluation.classifier import FeatureExtractor, build_classifier
from pipeline.evaluation.run import evaluate_generator, per_class_scores
from pipeline.evaluation.spaces import FeatureSpace
from pipeline.evaluation.spaces.classifier import ClassifierSpace
from tests.helpers.configs import compose_config, validate_all

SETTINGS = dataclasses.replace(
    validate_all(compose_config()).evaluation, num_generated=40, num_real=10_000, batch_size=20,
    kid_subsets=2, kid_subset_size=10, memorisation_samples=5, seed=0, features="classifier",
    real_split="test",
)  # fmt: skip
META = {"dataset": "image_folder", "checksum": "abc", "class_names": ["a", "b"]}


def extractor(feature_dim: int = 8) -> ClassifierSpace:
    return ClassifierSpace(FeatureExtractor(build_classifier((8, 8, 1), 2, feature_dim)))


def fake(noise: np.ndarray) -> np.ndarray:
    return np.tanh(noise[:, :64].reshape(-1, 8, 8, 1)).astype("float32")


def test_a_small_test_split_is_used_whole_and_recorded(tmp_path, capsys):
    rng = np.random.default_rng(0)
    test = rng.integers(0, 256, (30, 8, 8, 1), dtype=np.uint8)
    train = rng.integers(0, 256, (50, 8, 8, 1), dtype=np.uint8)
    result = evaluate_generator(fake, 64, extractor(), train, test, META, SETTINGS, tmp_path).result
    said = capsys.readouterr().out
    assert "the test split holds 30 images, fewer than evaluation.num_real=10000" in said
    assert result["protocol"]["num_real"] == 30 and np.isfinite(result["fid"])
    assert "fid_caveat" not in result  # 30 and 40 images against 8 dimensions


def test_fewer_images_than_dimensions_scores_with_a_stated_caveat(tmp_path):
    """20 real images in 32 feature dimensions (a small folder in Inception's 2048): FID is
    computed and eval.json says how far to trust it."""
    rng = np.random.default_rng(1)
    test = rng.integers(0, 256, (20, 8, 8, 1), dtype=np.uint8)
    train = rng.integers(0, 256, (50, 8, 8, 1), dtype=np.uint8)
    result = evaluate_generator(fake, 64, extractor(32), train, test, META, SETTINGS, tmp_path)
    assert np.isfinite(result.result["fid"])
    assert result.result["fid_caveat"].startswith("20 images against 32 feature dimensions")
    assert "KID" in result.result["fid_caveat"]


def test_too_few_to_score_is_an_error_with_a_fix_that_can_be_met(tmp_path):
    test = np.zeros((6, 8, 8, 1), np.uint8)
    with pytest.raises(PipelineError, match="6 images are too few to score") as e:
        evaluate_generator(fake, 64, extractor(), test, test, META, SETTINGS, tmp_path)
    assert "dataset.test_fraction" in e.value.fix and "real_split=train" in e.value.fix


def test_a_missing_per_class_fid_says_why():
    """Class b has 4 real test images against 8 feature dimensions: no FID, and the reason."""
    from pipeline.gan.conditional import conditional_networks
    from tests.helpers.configs import compose_config, validate_all

    cfg = validate_all(compose_config(["experiment=smoke"]))
    generator, _ = conditional_networks(cfg.model, (8, 8, 1), 2)
    labels = np.array([0] * 20 + [1] * 4)
    images = np.random.default_rng(1).integers(0, 256, (24, 8, 8, 1), dtype=np.uint8)
    scores, _ = per_class_scores(generator, extractor(), images, labels, ["a", "b"], 30, seed=0)
    assert (
        scores["per_class"]["a"]["fid"] is not None
        and "fid_missing" not in scores["per_class"]["a"]
    )
    assert scores["per_class"]["b"]["fid"] is None
    assert scores["per_class"]["b"]["fid_missing"].startswith("4 real images, not more than the 8")
    assert (
        scores["per_class_fid_mean"] is None
        and "1 of 2 classes" in scores["per_class_fid_mean_missing"]
    )


class PixelSpace(FeatureSpace):
    """A space without class predictions (as Inception): the pixels themselves."""

    name, feature_dim = "pixels", 64

    def features(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(images, np.float64).reshape(len(images), -1)


def test_per_class_scores_in_a_space_without_class_predictions():
    """Per-class FID is scored in any space; label accuracy is absent with the reason, and a
    class too small for a FID costs no feature extraction at all."""
    from pipeline.gan.conditional import conditional_networks
    from tests.helpers.configs import compose_config, validate_all

    cfg = validate_all(compose_config(["experiment=smoke"]))
    generator, _ = conditional_networks(cfg.model, (8, 8, 1), 2)
    labels = np.array([0] * 80 + [1] * 4)
    images = np.random.default_rng(1).integers(0, 256, (84, 8, 8, 1), dtype=np.uint8)
    scores, features = per_class_scores(generator, PixelSpace(), images, labels, ["a", "b"],
                                        90, seed=0)  # fmt: skip
    assert scores["per_class"]["a"]["fid"] > 0 and "accuracy" not in scores["per_class"]["a"]
    assert scores["per_class"]["b"] == {
        "fid": None, "fid_missing": "4 real images, not more than the 64 feature dimensions: "
        "FID needs more images than features"}  # fmt: skip
    assert "label_accuracy" not in scores and "pixels does not" in scores["label_accuracy_missing"]
    assert set(features["class_real_labels"]) == {0}  # only class a's features were computed


def test_fid_missing_names_the_smaller_sample():
    assert report.fid_missing(100, 100, 32) is None
    assert report.fid_missing(100, 20, 32).startswith("20 generated images")


def test_the_quality_probe_says_when_it_scores_fewer_test_images(tmp_path, capsys):
    from pipeline.training.probe import QualityProbe

    path = tmp_path / "model.keras"
    extractor().extractor.classifier.save(path)
    test = np.random.default_rng(2).integers(0, 256, (30, 8, 8, 1), dtype=np.uint8)
    monitor = dataclasses.replace(
        validate_all(compose_config()).monitor, probe_every_steps=10, probe_samples=100
    )
    probe = QualityProbe.for_training(monitor, path, test, seed=0)
    assert probe is not None and len(probe.real_images) == 30
    assert "holds 30 images, fewer than monitor.probe_samples=100" in capsys.readouterr().out


def test_the_quality_probe_scores_fewer_images_than_features_and_says_so(tmp_path, capsys):
    """The smoke preset's 100 probe images in a 128-d classifier (the one `dvc repro` trained,
    as a sweep after it finds): a biased but finite FID and a line saying so, not a stop."""
    from pipeline.training.probe import QualityProbe

    path = tmp_path / "model.keras"
    extractor().extractor.classifier.save(path)
    dims = extractor().feature_dim
    test = np.random.default_rng(3).integers(0, 256, (dims, 8, 8, 1), dtype=np.uint8)
    probe = QualityProbe.from_classifier(path, test, seed=0)
    assert f"{dims} images in the classifier's {dims} feature dimensions" in (
        capsys.readouterr().out
    )
    from pipeline.evaluation.metrics import frechet_distance, gaussian_stats

    half = gaussian_stats(probe.real_features[: dims // 2])
    assert np.isfinite(frechet_distance(half, probe.real_stats))


def test_the_classifier_space_refuses_data_of_one_class(tmp_path):
    """Asked for by name on one-class data, even with a classifier file at the path (another
    data's): an error naming the way out, not scores in a space that learned nothing."""
    from pipeline.evaluation.spaces import SpaceContext, open_space

    model = tmp_path / "model.keras"
    extractor().extractor.classifier.save(model)
    (tmp_path / "classifier.json").write_text('{"test_accuracy": 1.0}')
    context = SpaceContext({"class_names": ["all"]}, model, tmp_path / "classifier.json")
    with pytest.raises(PipelineError, match="the data has 1 class") as e:
        open_space("classifier", context)
    assert "evaluation.features=inception" in e.value.fix
