"""Evaluating one generator end to end: generated images, their scores against the real test
images, the real-vs-real floor, memorisation, and the pictures that show them."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import pipeline
from pipeline.config import EvaluationConfig
from pipeline.data.prepared import PreparedData, normalize
from pipeline.evaluation import report
from pipeline.evaluation.catalog import FID, KID
from pipeline.evaluation.spaces import FeatureSpace
from pipeline.io import atomic_path, read_json, write_json
from pipeline.viz import labelled_sheet, sample_sheet, save_png


@dataclass
class Evaluation:
    result: dict[str, Any]  # metrics/eval.json
    # generated images per predicted class, and the same for the floor's real images (None: the
    # feature space predicts no classes)
    class_counts: list[int] | None
    floor_class_counts: list[int] | None
    fake: np.ndarray
    memo: report.Memorisation
    # What register compares generators on: the features scored ("real", "generated") and the
    # nearest-neighbour distances of memorisation ("real_nn", "generated_nn")
    features: dict[str, np.ndarray]


def evaluate_generator(
    generate: Callable[[np.ndarray], Any],
    latent_dim: int,
    space: FeatureSpace,
    train_images: np.ndarray,
    test_images: np.ndarray,
    data_meta: Mapping[str, Any],
    settings: EvaluationConfig,
    cache_dir: Path,
) -> Evaluation:
    """Score ``generate`` (noise -> images) in ``space`` under the protocol that ``settings``
    (the `evaluation` section) and the data define; real features and the floor are cached
    under the protocol's key (data checksum, feature space and weights, sample counts)."""
    e = settings
    splits = {"test": test_images, "train": train_images}
    real_split = e.real_split
    reference_images = splits[real_split]
    num_real = report.real_sample_size(e.num_real, len(reference_images), real_split)
    report.check_sample_sizes(num_real, e.num_generated)
    protocol = report.Protocol(
        dataset=data_meta["dataset"],
        dataset_checksum=data_meta["checksum"],
        real_split=real_split,
        num_real=num_real,
        num_generated=e.num_generated,
        feature_space=space.name,
        feature_weights_sha256=space.weights_checksum,
        kid_subsets=e.kid_subsets,
        kid_subset_size=e.kid_subset_size,
    )
    num_classes = len(data_meta["class_names"])
    started = time.perf_counter()
    real = report.RealReference.load_or_compute(
        reference_images[:num_real], space, cache_dir / f"{real_split}-{protocol.key()}.npz"
    )
    fake = report.generate_images(generate, e.num_generated, latent_dim, e.seed, e.batch_size)
    fake_features, fake_probs = space(fake)
    kid = (e.kid_subsets, e.kid_subset_size, e.seed)
    scores = report.score(fake_features, fake_probs, real, num_classes, *kid)
    memo = report.memorisation(fake, test_images, train_images, e.memorisation_samples)
    eval_seconds = time.perf_counter() - started
    # The floor: real images the reference does not hold (the other split) scored alike
    other = splits["train" if real_split == "test" else "test"]
    floor_file = cache_dir / f"floor-{protocol.key()}-seed{e.seed}.json"
    floor = _floor(other, space, real, num_classes, e.num_generated, kid, floor_file)
    caveat = report.fid_caveat(num_real, e.num_generated, space.feature_dim)
    result = {
        **{k: v for k, v in scores.items() if k != "class_counts"},
        **memo.summary(),
        "eval_seconds": eval_seconds,
        "floor": {k: v for k, v in floor.items() if k != "class_counts"},
        "protocol": {**asdict(protocol), "key": protocol.key(), "name": protocol.name()},
        "feature_space": space.describe(),
        "pipeline_version": pipeline.__version__,  # the package that computed them
        **({"fid_caveat": caveat} if caveat else {}),
    }
    features = {
        "real": real.features,
        "generated": fake_features,
        "real_nn": memo.real_distances,
        "generated_nn": memo.fake_distances,
    }
    counts = scores.get("class_counts")
    return Evaluation(result, counts, floor.get("class_counts"), fake, memo, features)


def add_conditional_scores(
    evaluation: Evaluation,
    generator: Any,
    space: FeatureSpace,
    data: PreparedData,
    settings: EvaluationConfig,
) -> np.ndarray | None:
    """For a conditional generator: per-class FID and label accuracy (and the features behind
    them; in a space that predicts the data's classes) and, when `evaluation.utility` is on,
    the downstream utility, into ``evaluation``; returns the labelled class sheet. An
    unconditional generator gets None (and one line, when utility was asked for: its images
    have no labels to train on)."""
    from pipeline.evaluation.utility import downstream_utility
    from pipeline.explore import class_sheet_picture
    from pipeline.gan.sampling import num_classes

    classes, e = num_classes(generator), settings
    if not classes:
        evaluation.result["per_class_missing"] = (
            "the generator is unconditional (trained without class labels), so it has no "
            "classes to score one by one"
        )
        if e.utility.enabled:
            print("evaluation.utility: skipped, the generator is unconditional (its images have "
                  "no labels to train a classifier on)")  # fmt: skip
        return None
    names = list(data.meta["class_names"])
    test = (data.images("test"), data.labels("test"))
    per_class = max(e.num_generated // classes, 2)
    scores, class_features = per_class_scores(generator, space, *test, names, per_class,
                                              e.seed, e.batch_size)  # fmt: skip
    evaluation.result.update(scores)
    evaluation.features.update(class_features)
    if e.utility.enabled:
        started = time.perf_counter()
        train = (data.images("train"), data.labels("train"))
        evaluation.result.update(downstream_utility(
            generator, train, test, classes, e.utility, e.classifier, e.seed
        ))  # fmt: skip
        evaluation.result["utility_seconds"] = time.perf_counter() - started
    return class_sheet_picture(generator, names, 10, e.seed, 1.0, "the generator")


def summary_line(result: Mapping[str, Any], settings: EvaluationConfig, classes: int) -> str:
    """What evaluate prints: the scores a person looks at first, named with their protocol."""
    space = result["protocol"]["feature_space"]
    line = (
        f"{FID.shown(space)} {result['fid']:.2f} (real-vs-real floor "
        f"{result['floor']['fid']:.2f}), {KID.shown(space)} {result['kid_mean']:.4f}, "
        f"precision {result['precision']:.3f}, recall {result['recall']:.3f}"
    )
    if "classes_covered" in result:
        line += f", classes covered {result['classes_covered']}/{classes}"
    line += (
        f"; protocol {result['protocol']['name']} ({result['protocol']['key']}); "
        f"{result['eval_seconds']:.1f}s"
    )
    if "fid_caveat" in result:
        line += f"\nnote: FID of {result['fid_caveat']}"
    if "label_accuracy" in result:
        line += f"; label accuracy {result['label_accuracy']:.3f}"
    if "utility_real" in result:
        line += (
            f"; a classifier on {settings.utility.real_fraction:.0%} of the real data "
            f"scores {result['utility_real']:.3f}, with generated images "
            f"{result['utility_augmented']:.3f}, on generated images only "
            f"{result['utility_synthetic']:.3f} ({result['utility_seconds']:.0f}s)"
        )
    return line


def per_class_scores(
    generator: Any,
    space: FeatureSpace,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    class_names: list[str],
    per_class: int,
    seed: int,
    batch_size: int = 1000,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """For a class-conditional generator: per class, the FID of ``per_class`` images generated
    for it against the real test images of that class, in ``space``, and, when the space
    predicts the data's classes, the share it assigns to that class (label accuracy); then the
    means over classes. A class's FID is null when it has no more images (generated or real)
    than the features have dimensions (too few for a covariance), and its ``fid_missing`` says
    so (in a space without class predictions nothing is computed for it then). Also the
    features scored, for register's per-class comparison: "class_real"/"class_generated" with
    their class numbers in "<name>_labels"."""
    from pipeline.evaluation.metrics import frechet_distance, gaussian_stats
    from pipeline.gan.sampling import latent_dim, sample

    rng = np.random.default_rng(seed)
    scores: dict[str, dict[str, Any]] = {}
    kept: dict[str, list[np.ndarray]] = {"class_real": [], "class_generated": []}
    kept_classes: list[int] = []
    for k, name in enumerate(class_names):
        noise = rng.standard_normal((per_class, latent_dim(generator))).astype("float32")
        real_images = test_images[test_labels == k]
        missing = report.fid_missing(len(real_images), per_class, space.feature_dim)
        if missing and not space.has_classes:  # neither a FID nor an accuracy to compute
            scores[name] = {"fid": None, "fid_missing": missing}
            continue
        images = np.concatenate([
            np.asarray(sample(generator, noise[i : i + batch_size],
                              np.full(len(noise[i : i + batch_size]), k, "int32")))
            for i in range(0, per_class, batch_size)
        ])  # fmt: skip
        features, probs = space(images)
        real_features, _ = space(real_images)
        kept["class_real"].append(real_features)
        kept["class_generated"].append(features)
        kept_classes.append(k)
        scores[name] = {
            "fid": None
            if missing
            else frechet_distance(gaussian_stats(features), gaussian_stats(real_features)),
            **({"accuracy": float(np.mean(probs.argmax(axis=1) == k))} if probs is not None
               else {}),
            **({"fid_missing": missing} if missing else {}),
        }  # fmt: skip
    fids = [s["fid"] for s in scores.values() if s["fid"] is not None]
    accuracies = [s["accuracy"] for s in scores.values() if "accuracy" in s]
    result: dict[str, Any] = {
        "per_class": scores,
        "per_class_fid_mean": float(np.mean(fids)) if len(fids) == len(scores) else None,
    }
    if accuracies:
        result["label_accuracy"] = float(np.mean(accuracies))
    else:
        result["label_accuracy_missing"] = (
            f"label accuracy needs a feature space that predicts the data's classes; "
            f"{space.name} does not (evaluation.features=classifier does)"
        )
    if len(fids) < len(scores):
        result["per_class_fid_mean_missing"] = (
            f"{len(scores) - len(fids)} of {len(scores)} classes have no FID "
            "(per_class.<class>.fid_missing says why)"
        )
    arrays = {}
    if kept_classes:
        for key, parts in kept.items():
            arrays[key] = np.concatenate(parts)
            arrays[f"{key}_labels"] = np.repeat(kept_classes, [len(p) for p in parts])
    return result, arrays


def _floor(
    other_images: Any,
    space: Any,
    real: Any,
    num_classes: Any,
    num_generated: int,
    kid: tuple[Any, ...],
    cache_file: Path,
) -> dict[str, Any]:
    """What real images of the other split score against the same reference: the best a
    generator can expect. It depends only on the protocol and the seed, so it is computed
    once."""
    if cache_file.is_file():
        return dict(read_json(cache_file))
    seed = kid[2]
    chosen = np.random.default_rng(seed).permutation(len(other_images))[:num_generated]
    features, probs = space(other_images[np.sort(chosen)])
    floor = report.score(features, probs, real, num_classes, *kid)
    write_json(cache_file, floor)
    return floor


def write_class_histogram(path: Path, class_names: Any, counts: Any, floor_counts: Any) -> None:
    """Images per predicted class, generated and real (the floor's); no rows when the feature
    space predicts no classes."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "generated", "real_train"])
        if counts is None or floor_counts is None:
            return
        for name, n_fake, n_real in zip(class_names, counts, floor_counts, strict=True):
            writer.writerow([name, n_fake, n_real])


def save_sample_pictures(
    evaluation: Evaluation,
    train_images: np.ndarray,
    samples: Path,
    nearest: Path,
    class_sheet: np.ndarray | None = None,
) -> None:
    """The samples (``class_sheet``: a conditional generator's per-class sheet, made by the
    caller; else 100 of the scored images) and the nearest-neighbour sheet."""
    if class_sheet is None:
        class_sheet = sample_sheet(evaluation.fake[:100], None, "generated samples")
    save_png(class_sheet, samples)
    save_png(nearest_pairs_picture(evaluation.fake, evaluation.memo, train_images), nearest)


def nearest_pairs_picture(
    fake: Any, memo: report.Memorisation, train: Any, pairs: int = 8
) -> np.ndarray:
    """Top row: the generated images closest to a training image; bottom row: that image."""
    closest = np.argsort(memo.fake_distances)[:pairs]
    top = fake[: len(memo.fake_distances)][closest]
    bottom = normalize(train[memo.fake_neighbours[closest]])  # prepared uint8 -> [-1, 1]
    return labelled_sheet(
        [top, bottom],
        ["generated", "nearest real"],
        "the generated images closest to a training image, above that image",
    )
