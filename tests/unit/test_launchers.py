"""Hydra launcher presets (issue 10, #6): each composes with the sweep's config as a user's
`python -m pipeline.tune -m hydra/launcher=<preset>` would, with the launcher it names. The
Slurm preset is checked against the submitit plugin's own schema (installed with .[cluster]);
none is run here."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from pipeline.cli import check_overrides
from tests.helpers.configs import CONF

pytestmark = pytest.mark.distributed


def launcher(preset: str, *overrides: str):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "tune", overrides=[f"hydra/launcher={preset}", *overrides], return_hydra_config=True
        )
    return cfg.hydra.launcher


def test_every_preset_is_a_known_option_of_the_command_line():
    for preset in ("parallel", "slurm", "ray"):
        check_overrides(["-m", f"hydra/launcher={preset}", "experiment=smoke"], "tune")


def test_parallel_runs_two_local_jobs_with_joblib():
    parallel = launcher("parallel")
    assert parallel._target_.endswith("joblib_launcher.JoblibLauncher") and parallel.n_jobs == 2


def test_slurm_composes_against_submitit_and_takes_overrides():
    slurm = launcher("slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=240")
    assert slurm._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (slurm.partition, slurm.timeout_min, slurm.gpus_per_node) == ("gpu", 240, 1)
    assert slurm.array_parallelism == 16


def test_a_slurm_setting_the_plugin_does_not_know_is_refused():
    with pytest.raises(Exception, match="gpus_per_task_typo"):
        launcher("slurm", "hydra.launcher.gpus_per_task_typo=1")


def test_ray_names_the_ray_launcher_and_a_running_cluster():
    ray = launcher("ray", "hydra.launcher.ray.remote.num_gpus=0")
    assert ray._target_ == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    assert ray.ray.init.address == "auto" and ray.ray.remote.num_gpus == 0
