"""Stage `classifier`: train the metrics' feature extractor on the real training split."""

from __future__ import annotations

from omegaconf import DictConfig

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import ClassifierConfig, DatasetConfig, Section
from pipeline.data.prepared import load_prepared
from pipeline.evaluation.classifier import train_classifier, weights_checksum
from pipeline.io import atomic_path, check_writable, write_json

SECTIONS: dict[str, Section] = {"dataset": DatasetConfig, "evaluation.classifier": ClassifierConfig}


def classifier(cfg: DictConfig) -> float:
    out = Artifacts.from_paths(cfg.paths)
    check_writable(out.folders("classifier", "metrics"))
    data = load_prepared(out.prepared, dataset=cfg.dataset)
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
    with atomic_path(out.classifier) as tmp:
        model.save(tmp)
    write_json(
        out.metric(artifacts.CLASSIFIER_METRICS),
        {"test_accuracy": accuracy, "test_images": int(data.meta["counts"]["test"])},
    )
    print(
        f"classifier: test accuracy {accuracy:.4f} on {data.meta['dataset']}; "
        f"weights sha256 {weights_checksum(model)[:12]}"
    )
    return accuracy


main = entrypoint(classifier, SECTIONS)

if __name__ == "__main__":
    main()
