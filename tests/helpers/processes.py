"""Commands run as a user would run them, in their own processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers.configs import ROOT


def run_module(module: str, *args: str, cwd: Path = ROOT, env: dict | None = None, timeout=600):
    """Run ``python -m module args``; returns the CompletedProcess."""
    return run_command([sys.executable, "-m", module, *args], cwd=cwd, env=env, timeout=timeout)


def run_command(cmd: list[str], cwd: Path = ROOT, env: dict | None = None, timeout=600):
    """``env`` adds to this process's environment; a value of None removes that variable."""
    merged = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env = {key: value for key, value in merged.items() if value is not None}
    return subprocess.run(
        cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def start_command(cmd: list[str], env: dict | None = None) -> subprocess.Popen:
    """Start ``cmd`` in the project's root, output captured as text; the caller waits."""
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_all(processes: list[subprocess.Popen], timeout: float = 600) -> list[str]:
    """Wait for every process; each must succeed. Returns their standard outputs."""
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=timeout)
        assert process.returncode == 0, stderr[-3000:]
        outputs.append(stdout)
    return outputs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
