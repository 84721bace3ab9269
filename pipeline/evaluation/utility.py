"""What the synthetic data is worth downstream: the feature classifier's architecture trained on
(a) a small real subset, (b) the same plus generated images, (c) generated images only, each
scored on the real test split. (c) is the Classification Accuracy Score (Ravuri & Vinyals
2019); (b) against (a) says whether the generator helps a classifier that has little data.
No DVC or MLflow here."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.config import ClassifierConfig, UtilityConfig
from pipeline.data.prepared import normalize
from pipeline.evaluation.classifier import build_classifier
from pipeline.gan.sampling import latent_dim, sample


def real_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of ``fraction`` of each class (at least one image of each), seeded."""
    rng = np.random.default_rng(seed)
    chosen = [
        rng.permutation(members)[: max(1, round(fraction * len(members)))]
        for members in (np.flatnonzero(labels == k) for k in np.unique(labels))
    ]
    return np.sort(np.concatenate(chosen))


def generated_set(
    generator: Any, num_classes: int, per_class: int, seed: int, batch_size: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images of each class from a conditional generator, with their labels."""
    labels = np.repeat(np.arange(num_classes), per_class).astype("int32")
    noise = np.random.default_rng(seed).standard_normal((len(labels), latent_dim(generator)))
    images = [
        np.asarray(sample(generator, noise[i : i + batch_size].astype("float32"),
                          labels[i : i + batch_size]))
        for i in range(0, len(labels), batch_size)
    ]  # fmt: skip
    return np.concatenate(images), labels


def accuracy_after_training(
    x: np.ndarray, y: np.ndarray, test: tuple[np.ndarray, np.ndarray], num_classes: int,
    classifier: ClassifierConfig, steps: int, seed: int,
) -> float:  # fmt: skip
    """Train a fresh classifier for ``steps`` batches on (x in [-1, 1], y) and return its
    accuracy on ``test`` (prepared uint8 images, labels). A fixed number of steps, not of
    epochs, so that a small set is not trained for less than a large one."""
    keras.utils.set_random_seed(seed)
    model = build_classifier(x.shape[1:], num_classes, classifier.feature_dim)
    model.compile(
        optimizer=keras.optimizers.Adam(classifier.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    batches = (
        tf.data.Dataset.from_tensor_slices((x.astype("float32"), y.astype("int32")))
        .shuffle(len(x), seed=seed)
        .repeat()
        .batch(classifier.batch_size)
    )
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    _, accuracy = model.evaluate(normalize(test[0]), test[1], batch_size=1000, verbose=0)
    return float(accuracy)


def downstream_utility(
    generator: Any,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    settings: UtilityConfig,
    classifier: ClassifierConfig,
    seed: int,
) -> dict[str, float]:
    """eval.json's utility_real, utility_augmented and utility_synthetic (accuracies on the real
    test split) under ``settings`` (the `evaluation.utility` section)."""
    chosen = real_subset(train[1], settings.real_fraction, seed)
    real_x, real_y = normalize(train[0][chosen]), train[1][chosen]
    fake_x, fake_y = generated_set(generator, num_classes, settings.generated_per_class, seed)
    sets = {
        "utility_real": (real_x, real_y),
        "utility_augmented": (np.concatenate([real_x, fake_x]), np.concatenate([real_y, fake_y])),
        "utility_synthetic": (fake_x, fake_y),
    }
    return {
        name: accuracy_after_training(x, y, test, num_classes, classifier, settings.steps, seed)
        for name, (x, y) in sets.items()
    }
