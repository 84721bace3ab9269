"""GAN pipeline: prepare data, train a GAN, evaluate it, register the best generator."""

import os

# TensorFlow prints pages of INFO lines at import; keep warnings and errors. Must run before
# the first `import tensorflow`, which any stage module may trigger.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
