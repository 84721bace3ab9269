"""The sections stages read besides a training run's (pipeline.config.training), and the bases
of the sections that plug-ins extend (dataset sources, models, losses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.config.schema import resolved, section, setting


@dataclass
class PathsConfig:
    """Where each stage reads and writes (dvc.yaml's deps and outs follow them)."""

    raw: str = setting()
    prepared: str = setting()
    models: str = setting()
    metrics: str = setting()
    plots: str = setting()
    checkpoints: str = setting()
    classifier: str = setting()
    cache: str = setting()  # real-data features for evaluation, keyed by protocol


@dataclass
class StageConfig:
    """What every stage reads: the run's seed and where files go; and, for the record only,
    the whole composed config (``resolved``). A stage's schema adds its sections."""

    seed: int = setting()
    paths: PathsConfig = section(PathsConfig)
    resolved: dict[str, Any] = resolved()


@dataclass
class DatasetConfig:
    """What every dataset source reads; each source's schema adds its own keys
    (pipeline.data.specs), and a key of another source is refused."""

    name: str = setting()
    # A folder holding the raw files (or, for image_folder, the images); null: data/raw/<name>.
    raw_dir: str | None = setting()
    # Keep only the first N images of each split: for smoke runs and demos.
    limit: int | None = setting(ge=1)
    # The data's name, in registered models' names ("<title>-generator"); null: the dataset's
    # name, or for image_folder the folder's name
    title: str | None = setting()


@dataclass
class ModelConfig:
    """What every model has (pipeline.models); each architecture's schema adds its layers."""

    name: str = setting()  # the architecture: an entry of pipeline.models.MODELS
    latent_dim: int = setting(ge=1)


@dataclass
class LossConfig:
    """A loss (pipeline.gan.losses); one with settings of its own extends this."""

    name: str = setting()


@dataclass
class TrackingConfig:
    """Where MLflow records runs."""

    uri: str | None = setting()  # null: $MLFLOW_TRACKING_URI, else sqlite:///<repo>/mlflow.db
    experiment_name: str = setting()
    run_name: str | None = setting()
    # A tracking server that stops answering mid-run: training goes on and what it records
    # waits; at the end, wait this long for the server before giving up
    wait_for_server_s: float = setting(ge=0)


@dataclass
class ClassifierConfig:
    """The feature extractor's training (a small CNN on the real training split)."""

    epochs: int = setting(ge=1)
    batch_size: int = setting(ge=1)
    learning_rate: float = setting(gt=0)
    feature_dim: int = setting(ge=1)
    # its own seed: the yardstick stays put when a run's `seed` changes
    seed: int = setting(ge=0)


@dataclass
class UtilityConfig:
    """What generated images are worth to a classifier (pipeline.evaluation.utility)."""

    enabled: bool = setting()
    real_fraction: float = setting(gt=0, le=1)  # of each class of the training split
    generated_per_class: int = setting(ge=1)
    steps: int = setting(ge=1)  # training batches of each of the three classifiers


@dataclass
class EvaluationConfig:
    """The evaluation protocol (the yardstick: feature space, real split, sample counts) and
    what else evaluate computes."""

    # The feature space of every score (pipeline.evaluation.spaces): auto, inception, classifier
    features: str = setting()
    real_split: str = setting(choices=("test", "train"))  # the real images scored against
    num_generated: int = setting(ge=2)
    num_real: int | None = setting(ge=2)  # from real_split; null: all of it
    batch_size: int = setting(ge=1)
    kid_subsets: int = setting(ge=1)
    kid_subset_size: int = setting(ge=2)
    memorisation_samples: int = setting(ge=1)
    seed: int = setting(ge=0)  # of the noise behind the generated set
    classifier: ClassifierConfig = section(ClassifierConfig)
    utility: UtilityConfig = section(UtilityConfig)


@dataclass
class TuneConfig:
    """``python -m pipeline.tune``: the score of metrics/eval.json that a sweep minimises."""

    objective: str = setting()  # a key of pipeline.evaluation.catalog with objective=True


@dataclass
class PrunerConfig:
    """Optuna's median pruner on the quality probe's FID during training."""

    enabled: bool = setting()
    startup_trials: int = setting(ge=0)  # trials run to the end before any is pruned
    warmup_steps: int = setting(ge=0)  # training steps before a trial may be pruned


@dataclass
class SearchConfig:
    """An Optuna search (conf/hparams_search/): which keys, over what, how many trials."""

    study_name: str = setting()
    n_trials: int = setting(ge=1)
    sampler_seed: int = setting(ge=0)
    storage: str | None = setting()  # Optuna's own; null: sqlite:///<repo root>/optuna.db
    # "<dotted key>": {low, high, log} (numbers) or {choices: [...]}
    params: dict[str, Any] = setting()
    pruner: PrunerConfig = section(PrunerConfig)


@dataclass
class RegistryConfig:
    """The registered model: its name, the largest request it serves, and when a new version
    becomes the champion."""

    # null: "<title>-generator", the title of the data the generator was evaluated on
    model_name: str | None = setting()
    max_images: int = setting(ge=1)  # largest num_images one request may ask for
    # significant: champion only when the FID difference's bootstrap interval is below 0 (and
    # KID's not above it); any: on any lower FID
    promotion: str = setting(choices=("significant", "any"))
    bootstrap_samples: int = setting(ge=10)
    confidence: float = setting(gt=0.5, lt=1)


@dataclass
class GenerateConfig:
    """`python -m pipeline.stages.generate`: images from the champion or any model URI."""

    model_uri: str | None = setting()  # null: the champion of registry.model_name
    num_images: int = setting(ge=1)
    seed: int = setting(ge=0)
    format: str = setting(choices=("grid", "folder", "npz"))
    output: str | None = setting()  # null: generated/samples.png, generated/samples/, .npz
    # A conditional generator's class: its name ("Sneaker") or number; null: every class in turn
    label: str | None = setting()
    truncation: float = setting(gt=0, le=1)  # noise scaled towards the mean: fidelity for variety
    mode: str = setting(choices=("samples", "classes", "interpolate"))
    walks: int = setting(ge=1)  # interpolate: walks between seeds seed, seed + 1, ...
    walk_steps: int = setting(ge=2)  # interpolate: images along each walk
