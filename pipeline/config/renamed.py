"""Settings and presets that were renamed, with the name to use instead: a config that still
says the old name is refused with the new one (CHANGELOG.md, "Breaking")."""

from __future__ import annotations

# Since 0.2.0 `training` holds the schedule and the optimiser only; the rest went to sections
# of their own concern (conf/augment, conf/compute, conf/checkpoint, conf/monitor).
KEYS: dict[str, str] = {
    "training.augment": "augment.diffaugment",
    "training.ada_target": "augment.ada_target",
    "training.ada_augment": "augment.ada_augment",
    "training.ada_speed_images": "augment.ada_speed_images",
    "training.precision": "compute.precision",
    "training.jit_compile": "compute.jit_compile",
    "training.deterministic": "compute.deterministic",
    "training.strategy": "compute.strategy",
    "training.cpu_devices": "compute.cpu_devices",
    "training.intra_op_threads": "compute.intra_op_threads",
    "training.inter_op_threads": "compute.inter_op_threads",
    "training.steps_per_execution": "compute.steps_per_execution",
    "training.checkpoint_every_steps": "checkpoint.every_steps",
    "training.resume": "checkpoint.resume",
    "training.log_every_steps": "monitor.log_every_steps",
    "training.sample_every_steps": "monitor.sample_every_steps",
    "training.num_samples": "monitor.num_samples",
    "training.probe_every_steps": "monitor.probe_every_steps",
    "training.probe_samples": "monitor.probe_samples",
    "training.d_wins_steps": "monitor.d_wins_steps",
}

# Presets (conf/<group>/<option>.yaml) now named after the architecture they build.
OPTIONS: dict[tuple[str, str], str] = {
    ("model", "compact_dcgan"): "strided_dcgan",
    ("model", "tf_tutorial_dcgan"): "strided_dcgan_tutorial",
}


def renamed_key(key: str) -> str | None:
    """The new name of a dotted key that was renamed (``training.jit_compile`` ->
    ``compute.jit_compile``), else None."""
    return KEYS.get(key.lstrip("+~"))


def renamed_message(old: str, new: str) -> tuple[str, str]:
    """(problem, fix) for a config that still uses ``old``."""
    return (
        f"'{old}' was renamed '{new}' in 0.2.0 (settings split by concern)",
        f"write {new} instead (on the command line, in -S overrides, in your own YAML files); "
        "CHANGELOG.md lists every renamed setting",
    )
