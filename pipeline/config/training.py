"""What a training run reads, one section per concern (in the spirit of lightning-hydra-
template's trainer / callbacks / logger): ``training`` (the schedule and the optimiser),
``augment``, ``compute`` (the machine), ``checkpoint`` and ``monitor``.

Every field says whether it changes the weights a run produces (``weights=``: True, False, or a
function of its section): the checkpoint fingerprint is made of the fields that do
(`pipeline.training.checkpoints`), so a run resumes only a checkpoint trained alike, and
changing any other (logging, XLA, more epochs at a constant rate, ...) continues it. A test
fails for a field without the mark.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline.config.schema import setting


def decays(training: TrainingConfig) -> bool:
    """Whether the learning rates decay over the run (then its length shapes every step)."""
    return training.lr_schedule != "constant"


def ada_on(augment: AugmentConfig) -> bool:
    """Whether adaptive augmentation is on (then its settings shape the weights)."""
    return bool(augment.ada_target)


@dataclass
class TrainingConfig:
    """The schedule and the optimiser, and what the networks are trained to do."""

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
    # 0: off; else the generator shipped is the average
    ema_decay: float = setting(ge=0, lt=1, weights=True)
    # Class-conditional: label embedding in G, projection D (pipeline.gan.conditional); auto:
    # when the data has 2 classes or more (the train stage says which it chose)
    conditional: Any = setting(choices=(True, False, "auto"), weights=True)


@dataclass
class AugmentConfig:
    """Augmentations of what D sees (pipeline.gan.augment names them)."""

    diffaugment: list[str] = setting(
        weights=True
    )  # DiffAugment: any of color, translation, cutout, flip
    # Adaptive augmentation (pipeline.gan.ada): the over-fitting signal r_t = E[sign(D(real))]
    # aimed at (0.6 in the paper; 0: off); its augmentations, each applied with probability p;
    # the images over which p can go from 0 to 1
    ada_target: float = setting(ge=0, lt=1, weights=True)
    ada_augment: list[str] = setting(weights=ada_on)
    ada_speed_images: int = setting(ge=1, weights=ada_on)


@dataclass
class ComputeConfig:
    """How the machine runs the step: numerics, compilation, devices, threads."""

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
    # Train steps per call into TensorFlow (Keras's compile option): fewer Python round trips
    steps_per_execution: int = setting(ge=1, weights=False)


@dataclass
class CheckpointConfig:
    """Where a run's checkpoints go: paths.checkpoints/<fingerprint of the settings that shape
    the weights>/, written atomically."""

    every_steps: int = setting(ge=1, weights=False)
    resume: bool = setting(weights=False)  # continue from checkpoints/<fingerprint>/ if there


@dataclass
class MonitorConfig:
    """What a run reports while it trains (MLflow curves, sample grids, the quality probe)."""

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


def weight_settings(section: Any) -> dict[str, Any]:
    """The settings of a run's ``section`` (any of the above) that shape the weights (their
    ``weights=`` marks)."""
    chosen = {}
    for f in dataclasses.fields(section):
        mark = f.metadata["weights"]
        if mark is True or (callable(mark) and mark(section)):
            chosen[f.name] = getattr(section, f.name)
    return chosen
