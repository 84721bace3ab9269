"""Training throughput per model, against what the machine can do, in one process:

    python benchmarks/train_throughput.py                      # the CPU candidates, 28x28x1
    python benchmarks/train_throughput.py --models mlp dcgan --shape 32,32,3 --xla
    # the default's settings: batch 8, 10 steps a call, one thread an op (run it again with
    # --threads 0 0 --steps-per-execution 1 for TensorFlow's own)
    python benchmarks/train_throughput.py --models strided_dcgan --batch-size 8 --steps 400 \
        --warmup 20 --steps-per-execution 10 --threads 1 0

For each model: forward multiply-adds per image (generator, discriminator), the estimated
FLOPs of one train step per image, steps/s, images/s and the achieved GFLOP/s, beside the large
(2048^2) float32 matmul GFLOP/s measured in the same run, so that efficiency against the
machine's limit shows. Compare numbers only within one run (same machine, same load).

Train-step FLOPs per image are estimated as 2 x (4 G + 8 D) multiply-adds: the discriminator's
step runs G forward and D forward and backward on a real and a fake image; the generator's step
runs G forward and backward and D forward and backward to the input.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from hydra import compose, initialize_config_dir

from pipeline.config import validate
from pipeline.stages.train import TrainConfig
from pipeline.training import distribute
from pipeline.training.build import build_gan, seed_everything
from pipeline.training.inputs import make_dataset
from pipeline.training.loop import steps_per_execution
from pipeline.training.settings import GanSettings

CONF = Path(__file__).resolve().parent.parent / "conf"
DEFAULT_MODELS = [
    "mlp",
    "dcgan_small",
    "strided_dcgan",
    "strided_dcgan_tutorial",
    "dcgan",
    "resnet_dcgan",
]


def all_layers(model):
    """Every layer of ``model``, those of nested models too (Keras's public ``layers``)."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def forward_macs(model) -> int:
    """Multiply-adds of one image through the Dense and (transposed) convolution layers, nested
    models and spectrally normalized layers included."""
    total = 0
    for layer in all_layers(model):
        inner = getattr(layer, "layer", layer)  # SpectralNormalization wraps its layer
        kind = inner.__class__.__name__
        if kind == "Dense":
            total += math.prod(inner.kernel.shape)
        elif kind == "Conv2D":
            _, out_h, out_w, _ = layer.output.shape
            total += out_h * out_w * math.prod(inner.kernel.shape)
        elif kind == "Conv2DTranspose":
            _, in_h, in_w, _ = layer.input.shape
            total += in_h * in_w * math.prod(inner.kernel.shape)
    return int(total)


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.matmul(a, b).numpy()  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        c = tf.matmul(a, b)
    c.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def measure(
    model: str, jit: bool, shape, batch_size: int, steps: int, warmup: int, per_call: int = 1
):
    """(seconds per step, G forward MACs, D forward MACs); ``per_call`` steps per call into
    TensorFlow (compute.steps_per_execution)."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "config",
            [f"model={model}", f"compute.jit_compile={jit}", f"training.batch_size={batch_size}",
             "compute.deterministic=false", "training.conditional=false"],
        )  # fmt: skip
    settings = GanSettings.from_config(validate(cfg, TrainConfig))
    settings.seed = 0
    seed_everything(0, deterministic=False)
    gan = build_gan(shape, settings)
    per_step = seconds_per_step(gan, shape, batch_size, steps, warmup, per_call)
    return per_step, forward_macs(gan.generator), forward_macs(gan.discriminator)


def seconds_per_step(gan, shape, batch_size: int, steps: int, warmup: int, per_call: int) -> float:
    """Seconds a train step of ``gan`` takes on random images of ``shape``, ``per_call`` steps
    per call into TensorFlow, after ``warmup`` steps (compiling included)."""
    images = np.random.default_rng(0).uniform(-1, 1, (batch_size * 8, *shape)).astype("float32")
    dataset = make_dataset(images, batch_size, seed=0)
    gan.steps_per_execution = steps_per_execution(per_call, math.gcd(steps, warmup), 0)
    gan.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0)
    start = time.perf_counter()
    gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--shape", default="28,28,1", help="H,W,C")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--xla", action="store_true", help="also measure with XLA on")
    parser.add_argument(
        "--steps-per-execution", type=int, default=1, metavar="N",
        help="train steps per call into TensorFlow (compute.steps_per_execution; it divides "
        "--steps and --warmup)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, nargs=2, default=(0, 0), metavar=("INTRA", "INTER"),
        help="TensorFlow's intra-op and inter-op threads (compute.intra_op_threads and "
        "inter_op_threads; 0: every core); one process each: compare two runs' ratios to matmul",
    )  # fmt: skip
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    distribute.threads(*args.threads)  # before TensorFlow runs anything

    peak_before = matmul_gflops()
    rows = []
    for model in args.models:
        for jit in (False, True) if args.xla else (False,):
            per_step, g_macs, d_macs = measure(
                model, jit, shape, args.batch_size, args.steps, args.warmup,
                args.steps_per_execution,
            )  # fmt: skip
            rows.append((model, jit, per_step, g_macs, d_macs))
            print(f"measured {model} (XLA {'on' if jit else 'off'})", file=sys.stderr)
    peak = (peak_before + matmul_gflops()) / 2  # before and after: load drifts on shared VMs

    print(f"\ntraining throughput, images {args.shape}, batch {args.batch_size}, {args.steps} "
          f"steps, {args.steps_per_execution} a call, threads (intra, inter) {args.threads}; "
          f"2048^2 float32 matmul: {peak:.0f} GFLOP/s (before {peak_before:.0f})\n")  # fmt: skip
    print(
        "| model | XLA | G MMAC/img | D MMAC/img | step MFLOP/img | steps/s | images/s "
        "| GFLOP/s | % of matmul |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for model, jit, per_step, g_macs, d_macs in rows:
        step_flops = 2 * (4 * g_macs + 8 * d_macs)
        images_per_s = args.batch_size / per_step
        achieved = step_flops * images_per_s / 1e9
        print(
            f"| {model} | {'on' if jit else 'off'} | {g_macs / 1e6:.1f} | {d_macs / 1e6:.1f} "
            f"| {step_flops / 1e6:.0f} | {1 / per_step:.2f} | {images_per_s:.0f} "
            f"| {achieved:.1f} | {100 * achieved / peak:.0f}% |"
        )


if __name__ == "__main__":
    main()
