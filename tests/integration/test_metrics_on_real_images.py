"""FID and KID order corrupted real images correctly, in the feature space of a classifier
trained (briefly) on real Fashion-MNIST."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from pipeline.config import ClassifierConfig, UtilityConfig
from pipeline.evaluation import metrics as m
from pipeline.evaluation.classifier import FeatureExtractor, train_classifier
from tests.helpers.files import SYSTEM_FASHION_MNIST

# --- orderings on real images in the real feature space ---------------------------------------


@pytest.fixture(scope="module")
def fashion_features():
    """A classifier trained briefly on real Fashion-MNIST, and 2,000 test images."""
    if not SYSTEM_FASHION_MNIST.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    from pipeline.data.prepared import normalize
    from pipeline.data.readers import read_local

    raw = read_local("fashion_mnist", SYSTEM_FASHION_MNIST)
    train = (normalize(raw.train[0][:6000]), raw.train[1][:6000])
    test = normalize(raw.test[0][:2000])
    model, accuracy = train_classifier(
        train, (test, raw.test[1][:2000]), 10,
        epochs=2, batch_size=128, learning_rate=1e-3, feature_dim=32, seed=0,
    )  # fmt: skip
    assert accuracy > 0.7
    return FeatureExtractor(model), test


def distances_for(extractor, reference, images):
    ref_features, _ = extractor(reference)
    features, _ = extractor(images)
    fid = m.frechet_distance(m.gaussian_stats(features), m.gaussian_stats(ref_features))
    kid, _ = m.kernel_distance(features, ref_features, subsets=10, subset_size=500)
    return fid, kid


@pytest.mark.parametrize("corruption", ["noise", "blur"])
def test_fid_and_kid_grow_with_corruption(fashion_features, corruption):
    extractor, test = fashion_features
    reference, images = test[:1000], test[1000:]
    rng = np.random.default_rng(7)
    levels = [0.0, 0.2, 0.5, 1.0] if corruption == "noise" else [0.0, 0.7, 1.5, 3.0]
    fids, kids = [], []
    for level in levels:
        if corruption == "noise":
            corrupted = np.clip(images + level * rng.standard_normal(images.shape), -1, 1)
        else:
            corrupted = gaussian_filter(images, sigma=(0, level, level, 0))
        fid, kid = distances_for(extractor, reference, corrupted.astype("float32"))
        fids.append(fid)
        kids.append(kid)
    assert fids == sorted(fids) and fids[-1] > 5 * fids[0], fids
    assert kids == sorted(kids), kids


# --- per-class scores of a conditional generator ----------------------------------------------


def class_mean_generator(train, shift: int):
    """A 'conditional generator' whose image for label k is the mean training image of class
    (k + shift) % 10: with shift 0 it draws what it is asked for, with shift 1 never."""
    import keras
    from keras import layers

    images, labels = train
    means = np.stack([images[labels == (k + shift) % 10].mean(axis=0) for k in range(10)])
    noise = keras.Input((8,))
    label = keras.Input((), dtype="int32")
    table = layers.Embedding(10, 784, name="label_embedding")
    drawn = layers.Reshape((28, 28, 1))(table(label))
    unused = layers.Reshape((28, 28, 1))(layers.Dense(784, kernel_initializer="zeros")(noise))
    model = keras.Model([noise, label], layers.Add()([drawn, unused]))
    table.set_weights([means.reshape(10, 784)])
    return model


def test_per_class_scores_name_the_class_asked_for(fashion_features):
    from pipeline.data.prepared import normalize
    from pipeline.data.readers import read_local
    from pipeline.evaluation.run import per_class_scores

    extractor, test = fashion_features
    raw = read_local("fashion_mnist", SYSTEM_FASHION_MNIST)
    train = (normalize(raw.train[0][:6000]), raw.train[1][:6000])
    test_labels = raw.test[1][:2000]
    names = [str(k) for k in range(10)]
    right, kept = per_class_scores(class_mean_generator(train, 0), extractor, test, test_labels,
                                   names, per_class=50, seed=0)  # fmt: skip
    wrong, _ = per_class_scores(class_mean_generator(train, 1), extractor, test, test_labels,
                                names, per_class=50, seed=0)  # fmt: skip
    # the features kept for register: every class's real test images and 50 generated ones
    assert np.bincount(kept["class_generated_labels"]).tolist() == [50] * 10
    assert np.bincount(kept["class_real_labels"]).tolist() == np.bincount(test_labels).tolist()
    assert len(kept["class_real"]) == len(test_labels)
    assert set(right["per_class"]) == set(names)
    assert right["label_accuracy"] > 0.6 and wrong["label_accuracy"] < 0.2
    accuracies = [s["accuracy"] for s in right["per_class"].values()]
    assert right["label_accuracy"] == pytest.approx(np.mean(accuracies))
    assert right["per_class_fid_mean"] < wrong["per_class_fid_mean"]


def test_downstream_utility_tells_useful_generated_images_from_mislabelled_ones():
    """On real Fashion-MNIST: class-mean images under their own labels teach a classifier most
    classes (synthetic-only accuracy well above chance); under the next class's label they teach
    it the wrong names (near 0), and added to 1% of the real data they make it worse than the
    real data alone."""
    if not SYSTEM_FASHION_MNIST.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    from pipeline.data.prepared import normalize
    from pipeline.data.readers import read_local
    from pipeline.evaluation.utility import downstream_utility, real_subset

    raw = read_local("fashion_mnist", SYSTEM_FASHION_MNIST)
    train = (raw.train[0][:6000], raw.train[1][:6000])
    test = (raw.test[0][:2000], raw.test[1][:2000])
    chosen = real_subset(train[1], 0.05, seed=0)
    assert np.bincount(train[1][chosen]).tolist() == [
        round(0.05 * n) for n in np.bincount(train[1])
    ]
    means = (normalize(train[0][:6000]), train[1])
    settings = UtilityConfig(enabled=True, real_fraction=0.05, generated_per_class=30, steps=60)
    classifier = ClassifierConfig(epochs=1, batch_size=64, learning_rate=0.001, feature_dim=32,
                                  seed=0)  # fmt: skip
    right = downstream_utility(class_mean_generator(means, 0), train, test, 10, settings,
                               classifier, seed=0)  # fmt: skip
    wrong = downstream_utility(class_mean_generator(means, 1), train, test, 10, settings,
                               classifier, seed=0)  # fmt: skip
    assert right["utility_real"] == wrong["utility_real"] > 0.5  # the same real subset and seed
    assert right["utility_synthetic"] > 0.4 and wrong["utility_synthetic"] < 0.1
    assert wrong["utility_augmented"] < right["utility_augmented"]
