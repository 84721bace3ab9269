"""benchmarks/gpu_check.py runs where there is no GPU too (a few steps, in its three modes, and
each feature space's images/s), writes its table, and says that memory was not measured; a GPU
machine runs the same command."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.configs import ROOT


def test_gpu_check_runs_every_mode_and_writes_its_table(tmp_path):
    out = tmp_path / "gpu-check.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--steps", "2",
         "--presets", "default", "--batch", "4", "--space-images", "60", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| default")]
    assert [r.split(" | ")[2] for r in rows] == ["float32", "mixed_bfloat16", "bfloat16 + XLA"]
    assert all(r.endswith("| n/a (no GPU) | yes |") for r in rows)
    spaces = [line for line in out.read_text().splitlines() if line.startswith("| inception")]
    assert [r.split(" | ")[1] for r in spaces] == ["28x28x1", "32x32x3", "64x64x3"]
