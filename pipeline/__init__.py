"""GAN pipeline: prepare data, train a GAN, evaluate it, register the best generator."""

import os
import sys

from pipeline.logs import hide_native_logs, wanted

# The project's commands (`python -m pipeline...`) hide TensorFlow's C++ log lines (see
# pipeline/logs.py); this must happen before the first `import tensorflow`, which any stage
# module triggers. --verbose, or the user's own TF_CPP_MIN_LOG_LEVEL, shows them.
if wanted(sys.argv, os.environ):
    hide_native_logs()


def _version() -> str:
    """The installed package's version (pyproject.toml's, the one place it is written)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gan-pipeline")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


# Recorded with every run (tag pipeline_version), in eval.json and on the model card.
__version__ = _version()
