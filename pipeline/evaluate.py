"""Stage `evaluate`: FID-style metrics of the trained generator, with the real-vs-real floor.

Writes metrics/eval.json (for `dvc metrics`), plots DVC can show, and logs everything to the
MLflow run that trained the generator, so runs compare side by side in the MLflow UI.
"""

from __future__ import annotations

import csv
import time
from dataclasses import asdict
from pathlib import Path

import keras
import mlflow
import numpy as np
from omegaconf import DictConfig

from pipeline import tracking
from pipeline.cli import entrypoint
from pipeline.data.prepared import load_prepared
from pipeline.errors import PipelineError
from pipeline.evaluation import report
from pipeline.evaluation.classifier import FeatureExtractor
from pipeline.io import atomic_path, read_json, write_json
from pipeline.train import GENERATOR_FILE, RUN_FILE
from pipeline.train_classifier import CLASSIFIER_FILE
from pipeline.viz import image_grid, save_png

EVAL_FILE = "eval.json"


def load_keras(path: Path, what: str, stage: str) -> keras.Model:
    if not path.is_file():
        raise PipelineError(f"no {what} at {path}", f"run the {stage} stage first (dvc repro)")
    return keras.models.load_model(path, compile=False)


def evaluate(cfg: DictConfig) -> float:
    e = cfg.evaluation
    data = load_prepared(cfg.paths.prepared, expected_dataset=cfg.dataset.name)
    generator = load_keras(Path(cfg.paths.models) / GENERATOR_FILE, "generator", "train")
    extractor = FeatureExtractor(
        load_keras(Path(cfg.paths.classifier) / CLASSIFIER_FILE, "classifier", "classifier"),
        e.batch_size,
    )
    test_images = data.images("test")
    report.check_sample_sizes(e.num_real, len(test_images), e.num_generated, extractor.feature_dim)
    protocol = report.Protocol(
        dataset=data.meta["dataset"],
        dataset_checksum=data.meta["checksum"],
        real_split="test",
        num_real=e.num_real,
        num_generated=e.num_generated,
        extractor="classifier",
        extractor_checksum=extractor.checksum,
    )
    num_classes = len(data.meta["class_names"])
    cache = Path(cfg.paths.cache) / "eval"

    started = time.perf_counter()
    real = report.RealReference.load_or_compute(
        test_images[: e.num_real], extractor, cache / f"test-{protocol.key()}.npz"
    )
    fake = report.generate_images(
        lambda z: generator(z, training=False),
        e.num_generated,
        int(generator.input_shape[-1]),
        e.seed,
        e.batch_size,
    )
    fake_features, fake_probs = extractor(fake)
    scores = report.score(
        fake_features, fake_probs, real, num_classes, e.kid_subsets, e.kid_subset_size, e.seed
    )
    train_images = data.images("train")
    memo = report.memorisation(fake, test_images, train_images, e.memorisation_samples)
    eval_seconds = time.perf_counter() - started

    floor = _floor(train_images, extractor, real, num_classes, e, cache / f"floor-{protocol.key()}"
                   f"-kid{e.kid_subsets}x{e.kid_subset_size}-seed{e.seed}.json")  # fmt: skip

    result = {
        **{k: v for k, v in scores.items() if k != "class_counts"},
        **memo.summary(),
        "eval_seconds": eval_seconds,
        "floor": {k: v for k, v in floor.items() if k != "class_counts"},
        "protocol": {**asdict(protocol), "key": protocol.key()},
    }
    _write_outputs(
        cfg, result, scores["class_counts"], floor["class_counts"], data, fake, memo, train_images
    )
    _log_to_training_run(cfg, result)
    print(
        f"FID {result['fid']:.2f} (real-vs-real floor {floor['fid']:.2f}), "
        f"KID {result['kid_mean']:.4f}, precision {result['precision']:.3f}, "
        f"recall {result['recall']:.3f}, classes covered {result['classes_covered']}/"
        f"{num_classes}; {eval_seconds:.1f}s for {e.num_generated} generated images"
    )
    return result["fid"]


def _floor(train_images, extractor, real, num_classes, e, cache_file: Path) -> dict:
    """What real training images score against the same reference: the best a generator can
    expect. It depends only on the protocol and the KID settings, so it is computed once."""
    if cache_file.is_file():
        return read_json(cache_file)
    chosen = np.random.default_rng(e.seed).permutation(len(train_images))[: e.num_generated]
    features, probs = extractor(train_images[np.sort(chosen)])
    floor = report.score(
        features, probs, real, num_classes, e.kid_subsets, e.kid_subset_size, e.seed
    )
    write_json(cache_file, floor)
    return floor


def _write_outputs(cfg, result, counts, floor_counts, data, fake, memo, train_images) -> None:
    metrics, plots = Path(cfg.paths.metrics), Path(cfg.paths.plots)
    write_json(metrics / EVAL_FILE, result)
    with atomic_path(plots / "class_histogram.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "generated", "real_train"])
        for name, n_fake, n_real in zip(
            data.meta["class_names"], counts, floor_counts, strict=True
        ):
            writer.writerow([name, n_fake, n_real])
    save_png(image_grid(fake[:100], columns=10), plots / "eval_samples.png")
    save_png(nearest_pairs_picture(fake, memo, train_images), plots / "nearest_neighbours.png")


def nearest_pairs_picture(fake, memo: report.Memorisation, train, pairs: int = 8) -> np.ndarray:
    """Top row: the generated images closest to a training image; bottom row: that image."""
    closest = np.argsort(memo.fake_distances)[:pairs]
    top = fake[: len(memo.fake_distances)][closest]
    bottom = np.asarray(train[memo.fake_neighbours[closest]])
    return image_grid(np.concatenate([top, bottom]), columns=len(closest))


def _log_to_training_run(cfg: DictConfig, result: dict) -> None:
    run_file = Path(cfg.paths.models) / RUN_FILE
    tracking.configure(cfg)
    run_id = read_json(run_file)["run_id"] if run_file.is_file() else None
    # Into the run that trained the generator; a run of its own if that is unknown.
    with mlflow.start_run(run_id=run_id, tags=None if run_id else {"stage": "evaluate"}):
        flat = {k: v for k, v in result.items() if isinstance(v, int | float)}
        flat.update({f"floor_{k}": v for k, v in result["floor"].items()})
        mlflow.log_metrics(flat)
        mlflow.set_tags({f"protocol.{k}": str(v) for k, v in result["protocol"].items()})
        mlflow.log_dict(result, "evaluation/eval.json")
        plots = Path(cfg.paths.plots)
        for name in ("eval_samples.png", "nearest_neighbours.png", "class_histogram.csv"):
            mlflow.log_artifact(str(plots / name), "evaluation")


main = entrypoint(evaluate)

if __name__ == "__main__":
    main()
