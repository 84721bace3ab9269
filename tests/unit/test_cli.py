"""How a stage's command ends: an error line, a fix line and an exit status, never a traceback."""

from __future__ import annotations

import errno

import pytest

from pipeline.cli import run_guarded
from pipeline.config import StageConfig
from tests.helpers.configs import compose_config


@pytest.fixture
def smoke_cfg():
    """The composed smoke config, as a stage's main() hands it to run_guarded."""
    return compose_config(["experiment=smoke"])


def ends(stage, cfg, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        run_guarded(stage, cfg, StageConfig)
    return int(stopped.value.code), capsys.readouterr().err


@pytest.mark.faults
def test_ctrl_c_outside_training_is_exit_130_with_the_fix(smoke_cfg, capsys):
    def stage(cfg):
        raise KeyboardInterrupt

    status, err = ends(stage, smoke_cfg, capsys)
    assert status == 130
    assert err.startswith("error: stopped at once by Ctrl-C") and "fix: run the same command" in err


@pytest.mark.faults
@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_a_full_disk_names_the_file(number, smoke_cfg, capsys):
    def stage(cfg):
        raise OSError(number, "No space left on device", "/data/models/generator.keras")

    status, err = ends(stage, smoke_cfg, capsys)
    assert status == 2
    assert "error: no space left on the disk writing /data/models/generator.keras" in err


def test_other_os_errors_are_not_taken_for_a_full_disk(smoke_cfg):
    def stage(cfg):
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError, match="Input/output"):
        run_guarded(stage, smoke_cfg, StageConfig)
