"""Stage `classifier`: train the feature extractor of the evaluation metrics on the real data."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from pipeline.cli import entrypoint
from pipeline.data.prepared import load_prepared
from pipeline.evaluation.classifier import train_classifier, weights_checksum
from pipeline.io import atomic_path, write_json

CLASSIFIER_FILE = "model.keras"


def classifier(cfg: DictConfig) -> float:
    data = load_prepared(cfg.paths.prepared, expected_dataset=cfg.dataset.name)
    c = cfg.evaluation.classifier
    model, accuracy = train_classifier(
        (data.images("train"), data.labels("train")),
        (data.images("test"), data.labels("test")),
        num_classes=len(data.meta["class_names"]),
        epochs=c.epochs,
        batch_size=c.batch_size,
        learning_rate=c.learning_rate,
        feature_dim=c.feature_dim,
        seed=cfg.seed,
    )
    with atomic_path(Path(cfg.paths.classifier) / CLASSIFIER_FILE) as tmp:
        model.save(tmp)
    write_json(
        Path(cfg.paths.metrics) / "classifier.json",
        {"test_accuracy": accuracy, "test_images": int(data.meta["counts"]["test"])},
    )
    print(
        f"classifier: test accuracy {accuracy:.4f} on {data.meta['dataset']}; "
        f"weights sha256 {weights_checksum(model)[:12]}"
    )
    return accuracy


main = entrypoint(classifier)

if __name__ == "__main__":
    main()
