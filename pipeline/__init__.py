"""GAN pipeline: prepare data, train a GAN, evaluate it, register the best generator."""

import os
import sys

from pipeline.logs import hide_native_logs, wanted

# The project's commands (`python -m pipeline...`) hide TensorFlow's C++ log lines (see
# pipeline/logs.py); this must happen before the first `import tensorflow`, which any stage
# module triggers. --verbose, or the user's own TF_CPP_MIN_LOG_LEVEL, shows them.
if wanted(sys.argv, os.environ):
    hide_native_logs()

__version__ = "0.1.0"
