"""What train + evaluate leave behind, made quickly: a small generator, its MLflow run and an
eval.json, for tests of register, serving and generate. (The `store` and `generator_file`
fixtures are in conftest.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np

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
    cfg = smoke_cfg.copy()
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
    (folder / "metrics").mkdir()
    (folder / "metrics" / "eval.json").write_text(
        json.dumps({
            "fid": fid,
            "protocol": {"key": protocol, "dataset": "fashion_mnist"},
            "generator_sha256": sha256_file(folder / "models" / "generator.keras"),
            "data_title": "fashion_mnist",
            "class_names": list(FASHION_MNIST.class_names),
        })
    )  # fmt: skip
    cfg.paths.models, cfg.paths.metrics = str(folder / "models"), str(folder / "metrics")
    cfg.registry.model_name = MODEL_NAME
    cfg.registry.max_images = 64
    cfg.registry.bootstrap_samples = 50
    return cfg, run.info.run_id


def champion_version(client) -> str:
    return str(client.get_model_version_by_alias(MODEL_NAME, "champion").version)
