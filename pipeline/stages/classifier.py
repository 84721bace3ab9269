"""Stage `classifier`: train the `classifier` feature space on the real training split, or, for
data without 2 classes or more (a folder of images without class sub-folders), skip it and say
why: a classifier of one class learns nothing, and evaluation then scores in Inception."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import ClassifierConfig, DatasetConfig, StageConfig, choice, section
from pipeline.data.prepared import load_prepared
from pipeline.data.specs import DATASETS
from pipeline.evaluation.classifier import train_classifier, weights_checksum
from pipeline.io import atomic_path, check_writable, write_json, write_text


@dataclass
class ClassifierStageConfig(StageConfig):
    dataset: DatasetConfig = choice(DATASETS)
    classifier: ClassifierConfig = section(ClassifierConfig, key="evaluation.classifier")


def classifier(cfg: ClassifierStageConfig) -> float | None:
    out = Artifacts.from_paths(cfg.paths)
    check_writable(out.folders("classifier", "metrics"))
    data = load_prepared(out.prepared, dataset=cfg.dataset)
    classes = len(data.meta["class_names"])
    if classes < 2:
        skip(out, f"the data has {classes} class (no class sub-folders): a classifier of "
                         "one class learns nothing; evaluation scores in Inception's features")  # fmt: skip
        return None
    c = cfg.classifier
    model, accuracy = train_classifier(
        (data.images("train"), data.labels("train")),
        (data.images("test"), data.labels("test")),
        num_classes=len(data.meta["class_names"]),
        epochs=c.epochs,
        batch_size=c.batch_size,
        learning_rate=c.learning_rate,
        feature_dim=c.feature_dim,
        seed=c.seed,
    )
    with atomic_path(out.classifier) as tmp:
        model.save(tmp)
    (out.classifier_dir / artifacts.CLASSIFIER_SKIPPED).unlink(missing_ok=True)
    write_json(
        out.metric(artifacts.CLASSIFIER_METRICS),
        {"test_accuracy": accuracy, "test_images": int(data.meta["counts"]["test"])},
    )
    print(
        f"classifier: test accuracy {accuracy:.4f} on {data.meta['dataset']}; "
        f"weights sha256 {weights_checksum(model)[:12]}"
    )
    return accuracy


def skip(out: Artifacts, reason: str) -> None:
    """No classifier: its folder says why (DVC keeps the folder as the stage's output), and
    metrics/classifier.json too; an older model there is removed, so nothing scores in it."""
    out.classifier.unlink(missing_ok=True)
    write_text(
        out.classifier_dir / artifacts.CLASSIFIER_SKIPPED, f"No classifier was trained: {reason}.\n"
    )
    write_json(out.metric(artifacts.CLASSIFIER_METRICS), {"skipped": reason})
    print(f"classifier: skipped: {reason}")


SCHEMA = ClassifierStageConfig
main = entrypoint(classifier, SCHEMA)

if __name__ == "__main__":
    main()
