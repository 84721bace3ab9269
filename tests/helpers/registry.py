"""What train + evaluate leave behind, made quickly: a small generator, its MLflow run and an
eval.json, for tests of register, serving and generate. (The `store` and `generator_file`
fixtures are in conftest.py.)"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import mlflow
import numpy as np

from pipeline.data.prepared import PREPARED_FORMAT
from pipeline.data.specs import FASHION_MNIST
from pipeline.io import sha256_file
from pipeline.tracking import runs as tracking

MODEL_NAME = "test-generator"


FEATURE_DIM, FEATURES = 16, 600


def features(
    fid: float, seed: int, memorisation: float = 1.0, weak_class: int | None = None
) -> dict[str, np.ndarray]:
    """What evaluate logs, drawn so that the scores are known: feature sets whose FID is about
    ``fid`` (real N(0, I), generated N(s, I) in 16 dimensions: FID = 16 s^2 + sampling noise),
    nearest-neighbour distances whose memorisation ratio is about ``memorisation``, and per
    class of Fashion-MNIST the same as the whole, except ``weak_class``, whose FID is about 40.
    The real sets are the same for every run."""
    shift = np.sqrt(fid / FEATURE_DIM)
    rng, real = np.random.default_rng(seed), np.random.default_rng(0)
    classes = len(FASHION_MNIST.class_names)
    per_class = 200
    class_shift = np.full(classes, shift)
    if weak_class is not None:
        class_shift[weak_class] = np.sqrt(40 / FEATURE_DIM)
    return {
        "real": real.normal(0, 1, (FEATURES, FEATURE_DIM)),
        "generated": rng.normal(shift, 1, (FEATURES, FEATURE_DIM)),
        "real_nn": real.normal(7, 0.5, 500),
        "generated_nn": rng.normal(7 * memorisation, 0.5, 500),
        "class_real": real.normal(0, 1, (classes * per_class, FEATURE_DIM)),
        "class_real_labels": np.repeat(np.arange(classes), per_class),
        "class_generated": rng.normal(
            np.repeat(class_shift, per_class)[:, None], 1, (classes * per_class, FEATURE_DIM)
        ),
        "class_generated_labels": np.repeat(np.arange(classes), per_class),
    }


def trained(tmp_path: Path, smoke_cfg, generator_file, fid: float, protocol: str, name: str,
            seed: int | None = None, **drawn):  # fmt: skip
    """What train + evaluate leave behind: a generator, its MLflow run (with the evaluation's
    features, drawn with ``seed``, a name of its own by default, and ``drawn``'s settings of
    ``features``), and eval.json."""
    folder = tmp_path / name
    (folder / "models").mkdir(parents=True)
    shutil.copy(generator_file, folder / "models" / "generator.keras")
    cfg = copy.deepcopy(smoke_cfg)
    cfg.tracking.uri = mlflow.get_tracking_uri()
    tracking.configure(cfg.tracking)
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_metric("eval/fid", fid)
        np.savez(
            folder / "features.npz",
            **features(fid, seed if seed is not None else 1 + len(name), **drawn),
        )
        mlflow.log_artifact(str(folder / "features.npz"), "evaluation")
    (folder / "models" / "train_run.json").write_text(json.dumps({"run_id": run.info.run_id}))
    write_stage_outputs(
        folder, fid, protocol, conditional=len(generator_inputs(generator_file)) > 1
    )
    cfg.paths.models, cfg.paths.metrics = str(folder / "models"), str(folder / "metrics")
    cfg.paths.prepared = str(folder / "prepared")
    cfg.registry.model_name = MODEL_NAME
    cfg.registry.max_images = 64
    cfg.registry.bootstrap_samples = 50
    return cfg, run.info.run_id


def champion_version(client) -> str:
    return str(client.get_model_version_by_alias(MODEL_NAME, "champion").version)


def generator_inputs(generator_file: Path) -> list:
    import keras

    return list(keras.saving.load_model(generator_file, compile=False).inputs)


def write_stage_outputs(folder: Path, fid: float, protocol: str, conditional: bool) -> None:
    """eval.json, eval_per_class.json, train.json and the prepared data's meta as the stages
    write them (the scores besides ``fid`` and the protocol's key are fixed, plausible ones)."""
    names = list(FASHION_MNIST.class_names)
    (folder / "metrics").mkdir()
    write = lambda name, data: (folder / "metrics" / name).write_text(json.dumps(data))  # noqa: E731
    scores = {"kid_mean": 0.05, "precision": 0.8, "recall": 0.4, "density": 0.9,
              "coverage": 0.65, "classifier_score": 8.0, "classes_covered": 10}  # fmt: skip
    write("eval.json", {
        "fid": fid, **scores, "floor": {"fid": 0.13, **scores},
        "memorisation_ratio": 1.05, "nn_distance_generated_median": 7.4,
        "nn_distance_real_median": 7.0, "nn_distance_generated_min": 2.8,
        "protocol": {"key": protocol, "dataset": "fashion_mnist", "num_generated": 600,
                     "num_real": 600, "real_split": "test"},
        "generator_sha256": sha256_file(folder / "models" / "generator.keras"),
        "data_title": "fashion_mnist", "class_names": names,
        **({"label_accuracy": 0.9} if conditional else {}),
    })  # fmt: skip
    per_class = {name: {"fid": 5.0 + k, "accuracy": 0.9} for k, name in enumerate(names)}
    write("eval_per_class.json", {"per_class": per_class} if conditional else {})
    write("train.json", {"steps": 300.0, "train_seconds": 75.0, "images_per_s": 250.0})
    (folder / "prepared").mkdir()
    (folder / "prepared" / "meta.json").write_text(json.dumps({
        "dataset": "fashion_mnist", "title": "fashion_mnist", "format": PREPARED_FORMAT,
        "checksum": "c" * 64, "class_names": names, "shape": [28, 28, 1],
        "counts": {"train": 600, "test": 600},
    }))  # fmt: skip
