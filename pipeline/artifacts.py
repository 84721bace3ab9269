"""What stages hand each other: the files each stage writes under the configured paths.

Every file name that one stage writes and another reads (or that dvc.yaml names) is here, and
only here; a stage never imports another stage. tests/unit/test_dvc_yaml.py checks dvc.yaml
against these names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import PathsConfig
from pipeline.errors import PipelineError
from pipeline.io import read_json, sha256_file

if TYPE_CHECKING:
    import keras

# paths.models (stage train)
GENERATOR_FILE = "generator.keras"
TRAIN_RUN_FILE = "train_run.json"  # {"run_id", "tracking_uri"}: the MLflow run that trained it
# paths.classifier (stage classifier)
CLASSIFIER_FILE = "model.keras"
CLASSIFIER_SKIPPED = "SKIPPED.md"  # instead of the model: why none was trained (one class)
# paths.metrics, one file per stage
PREPARE_METRICS = "prepare.json"  # what went into the prepared data (prepare.md: its summary)
PREPARE_REPORT = "prepare.md"
TRAIN_METRICS = "train.json"
CLASSIFIER_METRICS = "classifier.json"
EVAL_METRICS = "eval.json"
# per-class scores apart from eval.json, so that `dvc metrics show` stays one readable table
EVAL_PER_CLASS = "eval_per_class.json"
MODEL_CARD = "model_card.md"  # register's: also the registry version's description
REGISTER_METRICS = "register.json"
# The features an evaluation scored (real and generated), logged to the run under evaluation/
EVAL_FEATURES = "features.npz"
# paths.plots
TRAIN_HISTORY = "train_metrics.csv"
TRAIN_QUALITY = "train_quality.csv"  # the quality probe's step, probe_fid, probe_kid
SAMPLES = "samples.png"
TRAINING_CURVES = "training_curves.png"
CLASS_HISTOGRAM = "class_histogram.csv"
EVAL_SAMPLES = "eval_samples.png"
NEAREST_NEIGHBOURS = "nearest_neighbours.png"


@dataclass(frozen=True)
class Artifacts:
    """The configured folders, and the files in them that stages exchange."""

    prepared: Path
    models: Path
    metrics: Path
    plots: Path
    checkpoints: Path
    classifier_dir: Path
    cache: Path

    @classmethod
    def from_paths(cls, paths: PathsConfig) -> Artifacts:
        return cls(
            prepared=Path(paths.prepared),
            models=Path(paths.models),
            metrics=Path(paths.metrics),
            plots=Path(paths.plots),
            checkpoints=Path(paths.checkpoints),
            classifier_dir=Path(paths.classifier),
            cache=Path(paths.cache),
        )

    @property
    def generator(self) -> Path:
        return self.models / GENERATOR_FILE

    @property
    def train_run(self) -> Path:
        return self.models / TRAIN_RUN_FILE

    @property
    def classifier(self) -> Path:
        return self.classifier_dir / CLASSIFIER_FILE

    def folders(self, *keys: str) -> dict[str, Path]:
        """{"paths.<key>": folder} for config keys of paths (``classifier`` included)."""
        return {f"paths.{k}": getattr(self, "classifier_dir" if k == "classifier" else k)
                for k in keys}  # fmt: skip

    def metric(self, name: str) -> Path:
        return self.metrics / name

    def plot(self, name: str) -> Path:
        return self.plots / name


def require(path: Path, stage: str) -> Path:
    """``path`` if it exists, else an error saying which stage makes it."""
    if not path.exists():
        raise PipelineError(f"{path} not found", f"run the {stage} stage first (dvc repro)")
    return path


def load_keras_model(path: Path, stage: str) -> keras.Model:
    """A Keras model another stage saved, or an error naming that stage (missing or broken)."""
    import keras

    require(path, stage)
    try:  # safe_mode: a file cannot run code of its own (no lambda deserialisation)
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # a zip that is not one, a truncated file, a foreign model, ...
        detail = " ".join(str(e).split())[:200]
        raise PipelineError(
            f"{path} is not a readable Keras model ({type(e).__name__}: {detail})",
            f"run the {stage} stage again to rewrite it (dvc repro --force {stage})",
        ) from None


def train_run_id(artifacts: Artifacts) -> str | None:
    """The MLflow run that trained the generator in ``paths.models``, if it is known."""
    path = artifacts.train_run
    return str(read_json(path)["run_id"]) if path.is_file() else None


def per_job_outputs(cfg: Any, folder: Path) -> None:
    """Point the composed (not yet validated) ``cfg.paths``' per-job outputs (models, metrics, plots) into ``folder``: a sweep's
    jobs and trials each write their own, with the MLflow run as the record; the shared data,
    classifier and checkpoint cache stay where they are."""
    for key in ("models", "metrics", "plots"):
        cfg.paths[key] = str(folder / key)


def check_scores_fit(evaluation: Mapping[str, Any], out: Artifacts) -> None:
    """Refuse to register a generator under scores that are not its own, or are not numbers."""
    scored = evaluation.get("generator_sha256")
    actual = sha256_file(require(out.generator, "train"))
    if scored != actual:
        raise PipelineError(
            f"{out.metric(EVAL_METRICS)} scored another generator "
            f"({str(scored)[:12] if scored else 'not named'}) than {out.generator} "
            f"({actual[:12]}); registering would pair the model with scores not its own",
            "evaluate this generator first (dvc repro, or python -m pipeline.stages.evaluate)",
        )
    fid = float(evaluation["fid"])
    if not math.isfinite(fid):
        raise PipelineError(
            f"the generator's FID is {fid}: it produces no usable images",
            "train again (lower the learning rates); nothing was registered",
        )
