"""Quiet by default: the TensorFlow C++ log lines that a command's user need not read.

TensorFlow 2.21 writes its C++ logs through absl, straight to file descriptor 2 and from the
first import on, whatever TF_CPP_MIN_LOG_LEVEL says: on a machine without a GPU that is
"failed call to cuInit ... UNKNOWN ERROR (303)", the graph optimizer's "remapper failed:
INVALID_ARGUMENT: Mutation::Apply error ..." on every train step, oneDNN and CPU-feature notes.
They read as failures and are not (a real failure raises a Python error, which prints as an
`error:` line). ``hide_native_logs`` puts a filter on descriptor 2 that drops those lines and
passes everything else through, in order: Python's warnings and errors, and whatever
subprocesses print.

It is on for the project's commands (`python -m pipeline...`), never for code that imports the
package (tests, notebooks). ``--verbose`` on the command line, or a TF_CPP_MIN_LOG_LEVEL of the
user's own, keeps every line.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
from collections.abc import Mapping

VERBOSE_FLAG = "--verbose"
# absl's format: severity, MMDD, time, thread, file:line] message
NATIVE_LOG = re.compile(
    rb"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.\-/]+:\d+\] "
    rb"|^WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|^To enable the following instructions: .* rebuild TensorFlow"
)


def wanted(argv: list[str], environ: Mapping[str, str]) -> bool:
    """Whether a process started as ``argv`` hides native logs: a `python -m` command (argv[0]
    is "-m" while its packages are imported), without --verbose or the user's own level."""
    return argv[:1] == ["-m"] and VERBOSE_FLAG not in argv and "TF_CPP_MIN_LOG_LEVEL" not in environ


def hide_native_logs() -> None:
    """Route descriptor 2 through a thread that drops TensorFlow's C++ log lines. At exit the
    descriptor is put back and the thread drained, so no line written before is lost."""
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while chunk := source.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not NATIVE_LOG.match(line):
                        os.write(real, line + b"\n")
        if pending and not NATIVE_LOG.match(pending):
            os.write(real, pending)

    thread = threading.Thread(target=pump, name="native-log-filter", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(real, 2)  # the pipe's last write end closes: the thread reads to its end
        thread.join(timeout=5)

    atexit.register(restore)


# What mlflow.register_model prints when it succeeds (register prints its own decision)
REGISTRATION_CHATTER = ("Successfully registered model", "Created version", "Registered model")


def drop_lines(text: str, prefixes: tuple[str, ...]) -> str:
    """``text`` without the lines that start with one of ``prefixes``."""
    kept = (
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith(prefixes)
    )
    return "".join(kept)
