"""Bad input to a stage, as a user meets it on the command line: one error line with a fix,
exit status 2, no traceback."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from tests.helpers.configs import ROOT
from tests.helpers.processes import run_module

pytestmark = pytest.mark.faults


def test_unknown_model_in_params_file(tmp_path):
    params = OmegaConf.load(ROOT / "params.yaml")
    params.model.name = "transformer"
    path = tmp_path / "params.yaml"
    OmegaConf.save(params, path)
    result = run_module("pipeline.stages.train", "--params", str(path))
    assert result.returncode == 2
    assert "error: unknown model 'transformer'; choose one of: dcgan, mlp" in result.stderr
    assert "fix: pick an option from conf/model/" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_type_on_the_command_line(tmp_path):
    result = run_module(
        "pipeline.stages.train", "training.epochs=many", f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 2
    assert "invalid configuration value for 'training.epochs'" in result.stderr


def test_out_of_range_on_the_command_line(tmp_path):
    result = run_module("pipeline.stages.train", "training.generator_lr=-1",
                        f"hydra.run.dir={tmp_path}")  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "'training.generator_lr': -1" in result.stderr
        and "fix: use a value that is > 0" in result.stderr
    )


def test_unknown_dataset_on_the_command_line(tmp_path):
    result = run_module("pipeline.stages.prepare", "dataset=imagenet", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: " in result.stderr and "fix: " in result.stderr
    assert (
        "conf/dataset/ has no option 'imagenet'" in result.stderr
        and "fashion_mnist" in result.stderr
    )


def test_a_corrupt_generator_file_names_itself_and_the_stage_to_rerun(tmp_path):
    """Issue 9, #9: not Keras's misleading "File not found" traceback."""
    params = OmegaConf.load(ROOT / "params.yaml")
    params.paths.models, params.paths.metrics = str(tmp_path / "models"), str(tmp_path / "m")
    params.paths.plots = str(tmp_path / "plots")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "generator.keras").write_bytes(b"PK\x03\x04 truncated zip")
    path = tmp_path / "params.yaml"
    OmegaConf.save(params, path)
    result = run_module("pipeline.stages.evaluate", "--params", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "generator.keras is not a readable Keras model" in result.stderr
    assert "fix: run the train stage again" in result.stderr
    assert not (tmp_path / "m" / "eval.json").exists()
