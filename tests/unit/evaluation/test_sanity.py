"""The metrics move the right way (fast tier): every degradation on real Fashion-MNIST in the
classifier space, and Gaussian noise on real colour photos in the FID Inception space. The
full grid (both spaces, both datasets, every degradation) is
tests/integration/test_metric_sanity.py."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation import sanity
from tests.helpers.files import SYSTEM_FASHION_MNIST
from tests.helpers.photos import photo_crops


def fashion_split(n_train: int, n_test: int):
    """Real Fashion-MNIST: (train images, labels), (test images, labels), uint8."""
    if not SYSTEM_FASHION_MNIST.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    from pipeline.data.readers import read_local

    raw = read_local("fashion_mnist", SYSTEM_FASHION_MNIST)
    return (raw.train[0][:n_train], raw.train[1][:n_train]), (
        raw.test[0][:n_test],
        raw.test[1][:n_test],
    )


def classifier_features(train, feature_dim: int = 32):
    """The classifier space of data ``train``: a briefly trained classifier's features."""
    from pipeline.data.prepared import normalize
    from pipeline.evaluation.classifier import FeatureExtractor, train_classifier

    images, labels = train
    model, accuracy = train_classifier(
        (normalize(images), labels), (normalize(images[:500]), labels[:500]),
        int(labels.max()) + 1, epochs=1, batch_size=128, learning_rate=1e-3,
        feature_dim=feature_dim, seed=0,
    )  # fmt: skip
    assert accuracy > 0.6
    extractor = FeatureExtractor(model)
    return lambda x: extractor(x)[0]


def test_every_degradation_moves_the_scores_the_right_way_in_the_classifier_space():
    train, test = fashion_split(4000, 1000)
    features = classifier_features(train)
    reference = test[0][:500]
    candidates, labels = train[0][-500:], train[1][-500:]  # real images the classifier saw too
    rows = sanity.sanity_grid(features, reference, candidates, labels)
    assert sanity.violations(rows) == []
    # the undegraded real images sit at the floor: every degradation scores above it
    floor = rows[0].scores["fid"]
    assert all(r.scores["fid"] > floor for r in rows[1:])


def test_noise_moves_inception_scores_the_right_way():
    from pipeline.evaluation.spaces.inception import InceptionSpace

    space = InceptionSpace(batch_size=50)
    reference, _ = photo_crops(48, seed=1)
    candidates, labels = photo_crops(48, seed=2)
    rows = sanity.sanity_grid(space.features, reference, candidates, labels,
                              levels={"noise": sanity.LEVELS["noise"]}, kid_subsets=10)  # fmt: skip
    assert sanity.violations(rows) == []


def test_degradations_are_what_they_say():
    images = np.full((4, 16, 16, 3), 128, np.uint8)
    images[:, 4:12, 4:12] = 250
    noisy = sanity.degrade(images, "noise", 16)
    assert noisy.dtype == np.uint8 and 10 < np.std(noisy.astype(float) - images) < 20
    blurred = sanity.degrade(images, "blur", 2.0)
    assert blurred[:, 8, 8].mean() < 250 and blurred[:, 3, 8].mean() > 128  # edges smeared
    assert not np.array_equal(sanity.degrade(images, "jpeg", 8), images)
    labels = np.array([0, 1, 2, 3])
    kept = sanity.drop_modes(np.arange(4)[:, None], labels, 0.5, 10)
    assert len(kept) == 10 and set(kept.ravel()) <= {0, 1}  # classes 2 and 3 dropped
