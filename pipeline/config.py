"""Typed configuration: schemas that validate what Hydra (or DVC's params.yaml) hands a stage.

Defaults live in ``conf/`` only. The schemas here hold types and ranges and nothing else: every
field is ``setting()``, which has no default, so a value missing from ``conf/`` is an error that
names the key rather than a second, silently different default.

A stage validates only the sections it reads (its ``SECTIONS``, which mirror its ``params:`` in
dvc.yaml), so that, say, ``prepare`` neither imports nor depends on the model code. Sections
chosen by name from a catalog (model, loss, regularizers, dataset) are checked against the
chosen entry's schema.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pipeline.errors import PipelineError
from pipeline.plugins import Catalog

# The config groups (Hydra composes them; defaults live there only).
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def setting(**rules: Any) -> Any:
    """A schema field with no default (conf/ holds the default) and optional rules:
    ge, gt, le, lt (numbers; applied to each item of a list) and choices; ``weights`` (training
    fields) says whether the field changes the weights a run produces."""
    return field(default=MISSING, metadata=rules)


def section(schema: type) -> Any:
    """A nested section: its own schema, its values from conf/."""
    return field(default_factory=schema)


@dataclass
class DatasetConfig:
    name: str = setting()
    # A folder holding the raw files (or, for image_folder, the images); null: data/raw/<name>.
    raw_dir: str | None = setting()
    # Base URL of a mirror to download from instead of the official one (same file names).
    mirror: str | None = setting()
    download: bool = setting()
    # Keep only the first N images of each split: for smoke runs and demos.
    limit: int | None = setting(ge=1)
    # image_folder only: images become image_size x image_size with `channels` channels; a
    # non-square one by `resize`: center_crop (the centred square, as StyleGAN's dataset tool),
    # pad (the whole image letterboxed on pad_color) or stretch (aspect ratio lost)
    image_size: int = setting(ge=8)
    channels: int = setting(choices=(1, 3))
    # The data's name, in registered models' names ("<title>-generator"); null: the dataset's
    # name, or for image_folder the folder's name
    title: str | None = setting()
    resize: str = setting(choices=("center_crop", "pad", "stretch"))
    pad_color: list[int] = setting(ge=0, le=255)  # RGB of pad's border and of transparent pixels
    # A file that cannot be read: fail (one error naming every such file) or skip (listed in
    # metrics/prepare.json)
    on_bad_file: str = setting(choices=("fail", "skip"))
    test_fraction: float = setting(gt=0, lt=1)
    # The seeded train/test split of sources without an official one (image_folder): its own
    # seed, so that a run's `seed` changes the training, never the data it is scored on
    split_seed: int = setting(ge=0)


def decays(training: Mapping[str, Any]) -> bool:
    """Whether the learning rates decay over the run (then its length shapes every step)."""
    return training["lr_schedule"] != "constant"


def ada_on(training: Mapping[str, Any]) -> bool:
    """Whether adaptive augmentation is on (then its settings shape the weights)."""
    return bool(training["ada_target"])


@dataclass
class TrainingConfig:
    """Every field says whether it changes the weights a run produces (``weights=``: True,
    False, or a function of the section): the checkpoint fingerprint is made of the fields that
    do (`pipeline.training.checkpoints`), so a run resumes only a checkpoint trained alike, and
    changing any other (logging, XLA, more epochs at a constant rate, ...) continues it. A test
    fails for a field without the mark."""

    epochs: int = setting(ge=1, weights=decays)  # a longer constant-rate run continues
    batch_size: int = setting(ge=1, weights=True)
    steps_per_epoch: int | None = setting(ge=1, weights=True)  # null: one pass over the data
    generator_lr: float = setting(gt=0, weights=True)
    discriminator_lr: float = setting(gt=0, weights=True)
    beta_1: float = setting(ge=0, lt=1, weights=True)
    beta_2: float = setting(ge=0, lt=1, weights=True)
    # Both learning rates follow it over the run's epochs x steps_per_epoch steps.
    lr_schedule: str = setting(choices=("constant", "linear", "cosine"), weights=True)
    # D updates per G update (n_critic of WGAN-GP)
    discriminator_steps: int = setting(ge=1, weights=True)
    # Train steps per call into TensorFlow (Keras's compile option): fewer Python round trips
    steps_per_execution: int = setting(ge=1, weights=False)
    # 0: off; else the generator shipped is the average
    ema_decay: float = setting(ge=0, lt=1, weights=True)
    augment: list[str] = setting(weights=True)  # DiffAugment: any of color, translation, cutout
    # Adaptive augmentation (pipeline.gan.ada): the over-fitting signal r_t = E[sign(D(real))]
    # aimed at (0.6 in the paper; 0: off); its augmentations, each applied with probability p;
    # the images over which p can go from 0 to 1
    ada_target: float = setting(ge=0, lt=1, weights=True)
    ada_augment: list[str] = setting(weights=ada_on)
    ada_speed_images: int = setting(ge=1, weights=ada_on)
    # Class-conditional: label embedding in G, projection D (pipeline.gan.conditional); auto:
    # when the data has 2 classes or more (the train stage says which it chose)
    conditional: Any = setting(choices=(True, False, "auto"), weights=True)
    # mixed_*: compute in 16 bits, keep weights in float32 (loss scaling for float16)
    precision: str = setting(choices=("float32", "mixed_float16", "mixed_bfloat16"), weights=True)
    # XLA; TensorFlow's deterministic kernels exclude it: with deterministic true, XLA stays
    # off (the log says so)
    jit_compile: bool = setting(weights=False)
    deterministic: bool = setting(weights=False)  # bit-for-bit repeatable kernels
    # tf.distribute: default (one device), mirrored (local GPUs, else cpu_devices logical CPUs),
    # multi_worker (processes named by $TF_CONFIG); pipeline.training.distribute
    strategy: str = setting(choices=("default", "mirrored", "multi_worker"), weights=False)
    cpu_devices: int = setting(ge=1, weights=False)  # without a GPU: the CPU split in this many
    # TensorFlow's CPU thread pools, set when training starts a process (0: every core)
    intra_op_threads: int = setting(ge=0, weights=False)
    inter_op_threads: int = setting(ge=0, weights=False)
    checkpoint_every_steps: int = setting(ge=1, weights=False)
    resume: bool = setting(weights=False)
    log_every_steps: int = setting(ge=1, weights=False)
    sample_every_steps: int = setting(ge=1, weights=False)
    num_samples: int = setting(ge=1, weights=False)
    # KID and FID of probe_samples generated vs as many real test images, every N steps, in the
    # classifier's feature space (needs the classifier stage's model); 0: off
    probe_every_steps: int = setting(ge=0, weights=False)
    probe_samples: int = setting(ge=2, weights=False)
    # Warn (and tag the MLflow run) when D's accuracy on real and fake images stays >= 99% with
    # G's loss climbing for this many steps in a row; 0: never
    d_wins_steps: int = setting(ge=0, weights=False)


def weight_settings(training: Mapping[str, Any]) -> dict[str, Any]:
    """The training settings that shape the weights of a run (their ``weights=`` marks)."""
    chosen = {}
    for f in dataclasses.fields(TrainingConfig):
        mark = f.metadata["weights"]
        if mark is True or (callable(mark) and mark(training)):
            chosen[f.name] = training[f.name]
    return chosen


@dataclass
class TrackingConfig:
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


@dataclass
class PathsConfig:
    raw: str = setting()
    prepared: str = setting()
    models: str = setting()
    metrics: str = setting()
    plots: str = setting()
    checkpoints: str = setting()
    classifier: str = setting()
    cache: str = setting()  # real-data features for evaluation, keyed by protocol


@dataclass(frozen=True)
class Choice:
    """A section whose ``name`` picks a catalog entry; the entry's schema checks the rest, or
    ``schema`` when every entry shares one (datasets)."""

    catalog: Catalog[Any]
    schema: type | None = None


@dataclass(frozen=True)
class ChoiceMap:
    """A section mapping entry names to their settings (several regularizers at once)."""

    catalog: Catalog[Any]


Section = type | Choice | ChoiceMap

# Sections every stage validates, whatever it declares (seed: a non-negative int).
ALWAYS: dict[str, Section] = {"seed": int, "paths": PathsConfig}


def validate(cfg: DictConfig | Mapping[str, Any], sections: Mapping[str, Section]) -> DictConfig:
    """Check ``sections`` of ``cfg`` (dotted keys allowed) against their schemas and return the
    resolved config with those sections checked (values converted to their declared types);
    raise PipelineError naming the bad key, its value and a fix."""
    node = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))
    try:  # interpolations such as ${dataset.name} resolve against the whole config, first
        raw = cast(DictConfig, OmegaConf.create(OmegaConf.to_container(node, resolve=True)))
    except OmegaConfBaseException as e:
        raise PipelineError(
            f"cannot resolve the configuration: {str(e).splitlines()[0]}",
            "fix the ${...} interpolation it names (DVC composes without Hydra's ${hydra:...})",
        ) from None
    result = raw.copy()
    for key, spec in {**ALWAYS, **sections}.items():
        value = OmegaConf.select(raw, key, default=MISSING)
        if value is MISSING:
            raise PipelineError(
                f"the configuration has no '{key}'",
                f"add '{key}' to conf/ (defaults live there) or pass +{key}=<value>",
            )
        checked = _check(key, value, spec)
        OmegaConf.update(result, key, checked, merge=False, force_add=True)
    return result


def _check(key: str, value: Any, spec: Section) -> Any:
    if isinstance(spec, ChoiceMap):
        if value is None:
            return {}
        if not isinstance(value, DictConfig):
            raise _invalid(key, value, "a mapping of names to settings, e.g. {r1: {weight: 10}}")
        return {
            str(name): _merge(
                f"{key}.{name!s}", settings or {}, spec.catalog.entry(str(name)).schema
            )
            for name, settings in value.items()
        }
    if isinstance(spec, Choice):
        if not isinstance(value, DictConfig) or "name" not in value:
            raise _invalid(key, value, f"a {spec.catalog.kind} config with a 'name'")
        entry = spec.catalog.entry(str(value.name))  # the name must exist
        return _merge(key, value, spec.schema or entry.schema)
    if dataclasses.is_dataclass(spec):
        return _merge(key, value, spec)
    if isinstance(spec, type):  # a scalar section such as seed
        ok = isinstance(value, spec) and not (spec is int and isinstance(value, bool))
        if not ok or (spec is int and value < 0):
            raise _invalid(key, value, f"a non-negative {spec.__name__}")
        return value
    raise TypeError(f"unknown section spec {spec!r}")


def _merge(key: str, value: Any, schema: type | None) -> Any:
    if schema is None:  # an entry without settings of its own
        return (
            OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value
        )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), value)
    except OmegaConfBaseException as e:
        inner = getattr(e, "full_key", None)
        where = f"{key}.{inner}" if inner else key
        message = getattr(e, "msg", None) or str(e)
        raise PipelineError(
            f"invalid configuration value for '{where}': {message.splitlines()[0]}",
            f"check the key's spelling and type against conf/ (e.g. {key}.<key>=<value>)",
        ) from None
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        keys = ", ".join(f"{key}.{k}" for k in missing)
        raise PipelineError(
            f"no value for {keys}",
            "defaults live in conf/: add the key to the YAML file of that group",
        )
    _check_rules(key, cast(DictConfig, merged), schema)
    return OmegaConf.to_container(merged, resolve=True)


def _check_rules(prefix: str, node: DictConfig, schema: type) -> None:
    for f in dataclasses.fields(schema):
        value = node[f.name]
        if isinstance(value, DictConfig) and dataclasses.is_dataclass(f.default_factory):
            _check_rules(f"{prefix}.{f.name}", value, f.default_factory)
            continue
        rules = {k: v for k, v in f.metadata.items() if k in RULES}
        if not rules or value is None:
            continue
        items = list(value) if isinstance(value, ListConfig) else [value]
        for item in items:
            problem = _broken_rule(item, rules)
            if problem:
                raise _invalid(f"{prefix}.{f.name}", value, problem)


RULES = ("ge", "gt", "le", "lt", "choices")


def _broken_rule(value: Any, rules: Mapping[str, Any]) -> str | None:
    if "choices" in rules and value not in rules["choices"]:
        return "one of " + ", ".join(str(c) for c in rules["choices"])
    bounds = {"ge": (">=", float.__ge__), "gt": (">", float.__gt__),
              "le": ("<=", float.__le__), "lt": ("<", float.__lt__)}  # fmt: skip
    for rule, (symbol, holds) in bounds.items():
        if rule in rules and not holds(float(value), float(rules[rule])):
            return f"{symbol} {rules[rule]}"
    return None


def _invalid(key: str, value: Any, expected: str) -> PipelineError:
    shown = OmegaConf.to_container(value) if isinstance(value, DictConfig | ListConfig) else value
    return PipelineError(
        f"invalid configuration value for '{key}': {shown!r}", f"use a value that is {expected}"
    )


def flatten(cfg: DictConfig | Mapping[str, Any]) -> dict[str, str]:
    """The resolved config as dotted names ("training.epochs" -> "5"): MLflow's params."""
    flat: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            flat[prefix[:-1]] = str(node)

    walk(OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg, "")
    return flat
