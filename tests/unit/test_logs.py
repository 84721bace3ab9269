"""Quiet by default (pipeline/logs.py): TensorFlow's C++ log lines are dropped from a command's
stderr, everything else passes in order, and nothing is lost when the process exits."""

from __future__ import annotations

import sys

from pipeline.logs import NATIVE_LOG, VERBOSE_FLAG, wanted
from tests.helpers.processes import run_command

NATIVE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796080287.650907   10554 port.cc:153] oneDNN custom operations are on.",
    "E0000 00:00:1796080140.507504    8981 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "E0000 00:00:1796080145.466395    8981 meta_optimizer.cc:967] remapper failed: "
    "INVALID_ARGUMENT: Mutation::Apply error: fanout 'while/body/_1/while/cond' exist",
    "W0000 00:00:1796080145.466395    8981 op_level_cost_estimator.cc:699] Error in PredictCost",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    "with the appropriate compiler flags.",
]
KEPT = [
    "error: training diverged at step 3: d_loss=nan",
    "  fix: lower training.generator_lr",
    "UserWarning: something the user should read",
    "I0000 is not a log line without its time and source",
]


def test_the_pattern_matches_tensorflows_lines_only():
    assert all(NATIVE_LOG.match(line.encode()) for line in NATIVE)
    assert not any(NATIVE_LOG.match(line.encode()) for line in KEPT)


def test_only_commands_without_verbose_or_a_users_level_are_filtered():
    assert wanted(["-m", "experiment=smoke"], {})
    assert not wanted(["-m", VERBOSE_FLAG], {})
    assert not wanted(["-m"], {"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert not wanted(["/usr/bin/pytest"], {}), "importing the package changes nothing"


def test_a_filtered_process_keeps_every_other_line_in_order_up_to_its_exit():
    """Lines written straight to descriptor 2 (as TensorFlow's C++ code does), interleaved with
    Python's own; the last line is written just before exit with status 2."""
    lines = [x for pair in zip(NATIVE, KEPT + KEPT[:2], strict=False) for x in pair]
    code = (
        "import os, sys\n"
        "from pipeline.logs import hide_native_logs\n"
        "hide_native_logs()\n"
        f"for line in {lines!r}:\n"
        "    os.write(2, (line + '\\n').encode())\n"
        "print('last words', file=sys.stderr)\n"
        "sys.exit(2)\n"
    )
    result = run_command([sys.executable, "-c", code])
    assert result.returncode == 2
    shown = result.stderr.splitlines()
    assert shown == [*[x for x in lines if x in KEPT], "last words"]


def test_progress_bars_stay_out_of_logs(capfd):
    """Output that goes to a file or a pipe (DVC's log, CI) gets no carriage-return bar lines:
    evaluate's generation bar wrote one per batch into `dvc repro`'s log."""
    import numpy as np

    from pipeline.evaluation.report import generate_images

    images = generate_images(lambda z: np.tanh(z[:, :4]).reshape(-1, 2, 2, 1), 50, 8, seed=0,
                             batch_size=10)  # fmt: skip
    out, err = capfd.readouterr()
    assert images.shape == (50, 2, 2, 1)
    assert "\r" not in out + err and "generate" not in err


def test_registration_keeps_what_mlflow_warns_and_drops_only_its_success_lines():
    """register used to swallow everything MLflow printed while registering, a failure's
    warning included; now only the success lines go."""
    from pipeline.logs import REGISTRATION_CHATTER, drop_lines

    printed = (
        "Successfully registered model 'fashion_mnist-generator'.\n"
        "2026/12/04 17:00:00 WARNING mlflow.tracking._model_registry: the store is read-only\n"
        "Created version '3' of model 'fashion_mnist-generator'.\n"
        "Registered model 'fashion_mnist-generator' already exists. Creating a new version.\n"
    )
    kept = drop_lines(printed, REGISTRATION_CHATTER)
    assert (
        kept
        == "2026/12/04 17:00:00 WARNING mlflow.tracking._model_registry: the store is read-only\n"
    )
