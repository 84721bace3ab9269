"""The GPU check: train the default and the 64/128-pixel presets a fixed number of steps in
float32, in mixed bfloat16, and in bfloat16 with XLA (`hardware=gpu`); check that every loss
stays finite; write images/s, step time and peak GPU memory to a markdown table, and the
images/s of each evaluation feature space (the FID Inception network's cost decides how long
`hardware=gpu`'s paper protocol, fid50k_full, takes).

    pip install -e .                       # on the GPU machine (TensorFlow finds CUDA itself)
    python benchmarks/gpu_check.py         # about 5 minutes on one H100/H200-class GPU
    python benchmarks/gpu_check.py --steps 3 --presets default   # a quick look, CPU too

Synthetic images of each preset's shape (uniform noise, random labels): speed and memory do
not depend on what the pixels show, and the check needs no data on the machine. Step time is
measured after the first call into TensorFlow (which traces and, with XLA, compiles): the
median over the calls that follow. Exits 1 if any loss is not finite, after writing the table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from hydra import compose, initialize_config_dir

from pipeline.config import validate
from pipeline.data.specs import image_shape
from pipeline.errors import PipelineError
from pipeline.io import atomic_path
from pipeline.stages.train import TrainConfig
from pipeline.training import loop
from pipeline.training.settings import GanSettings

ROOT = Path(__file__).resolve().parent.parent
PRESETS = {  # name -> overrides: what a user runs
    "default": [],
    "folder64": ["experiment=folder64"],
    "folder128": ["experiment=folder128"],
}
MODES = {  # on top of hardware=gpu (batch 64, 50 steps a call)
    "float32": ["compute.precision=float32", "compute.jit_compile=false"],
    "mixed_bfloat16": ["compute.jit_compile=false"],
    "bfloat16 + XLA": [],  # hardware=gpu as it is
}


class CallTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each call into TensorFlow (``steps_per_execution`` steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def config(overrides: list[str]) -> TrainConfig:
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return validate(compose("config", overrides), TrainConfig)


def gpu() -> str | None:
    devices = tf.config.list_physical_devices("GPU")
    if not devices:
        return None
    details = tf.config.experimental.get_device_details(devices[0])
    return str(details.get("device_name", devices[0].name))


def check(preset: str, mode: str, steps: int, batch: int | None) -> dict:
    overrides = [*PRESETS[preset], "hardware=gpu", *MODES[mode],
                 f"training.steps_per_epoch={steps}", "training.epochs=1",
                 "monitor.probe_every_steps=0", f"monitor.log_every_steps={steps}",
                 f"monitor.sample_every_steps={steps}", "checkpoint.resume=false"]  # fmt: skip
    if batch:
        overrides.append(f"training.batch_size={batch}")
    cfg = config(overrides)
    t = cfg.training
    rng = np.random.default_rng(0)
    count = t.batch_size * t.discriminator_steps * 4
    images = rng.integers(0, 256, (count, *image_shape(cfg.dataset)), dtype=np.uint8)
    labels = rng.integers(0, 10, count)
    if gpu():
        tf.config.experimental.reset_memory_stats("GPU:0")
    timer = CallTimer()
    started = time.perf_counter()
    result = loop.train(images, GanSettings.from_config(cfg), labels=labels, num_classes=10,
                        callbacks=[timer])  # fmt: skip
    seconds = time.perf_counter() - started
    per_call = timer.seconds[1:] or timer.seconds  # the first call traces (and compiles)
    call = statistics.median(per_call)
    steps_per_call = max(1, round(result.steps / max(len(timer.seconds), 1)))
    step_s = call / steps_per_call
    losses = [v for row in result.rows for k, v in row.items() if k.endswith("loss")]
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] if gpu() else None
    return {
        "preset": preset, "mode": mode, "size": image_shape(cfg.dataset)[0], "batch": int(t.batch_size),
        "steps": result.steps, "step_ms": 1000 * step_s,
        "images_per_s": t.batch_size * t.discriminator_steps / step_s,
        "first_call_s": timer.seconds[0] if timer.seconds else math.nan,
        "peak_gib": None if peak is None else peak / 2**30, "seconds": seconds,
        "finite": bool(losses) and all(math.isfinite(v) for v in losses),
    }  # fmt: skip


def markdown(rows: list[dict], device: str) -> str:
    lines = [
        f"GPU check on {device}: synthetic images, `hardware=gpu` (batch 64 unless said, 50 "
        "steps a call) in three modes; step time is the median call after the first, over its "
        "steps; the first call includes tracing (and XLA's compile).",
        "",
        "| preset | size | mode | batch | steps | step (ms) | images/s | first call (s) "
        "| peak GPU memory (GiB) | losses finite |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        peak = "n/a (no GPU)" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        lines.append(
            f"| {r['preset']} | {r['size']} | {r['mode']} | {r['batch']} | {r['steps']} "
            f"| {r['step_ms']:.1f} | {r['images_per_s']:,.0f} | {r['first_call_s']:.1f} "
            f"| {peak} | {'yes' if r['finite'] else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="steps of every run")
    parser.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=list(PRESETS))
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--batch", type=int, help="instead of hardware=gpu's batch size")
    parser.add_argument("--space-images", type=int, default=2000,
                        help="images per feature space and size for its images/s")  # fmt: skip
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu-check.md"))
    args = parser.parse_args()
    device = gpu() or "CPU (no GPU found: memory not measured)"
    print(f"device: {device}", file=sys.stderr)
    rows = []
    for preset in args.presets:
        for mode in args.modes:
            print(f"{preset}, {mode}: {args.steps} steps", file=sys.stderr, flush=True)
            rows.append(check(preset, mode, args.steps, args.batch))
            print(f"result: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from eval_time import feature_space_speeds, speeds_markdown

    print("feature spaces: images/s", file=sys.stderr, flush=True)
    speeds = speeds_markdown(feature_space_speeds(n=args.space_images, batch=200), device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(markdown(rows, device) + "\n" + speeds)
    print(out.read_text())
    print(f"wrote {out}")
    broken = [f"{r['preset']} ({r['mode']})" for r in rows if not r["finite"]]
    if broken:
        print(f"error: losses not finite in {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PipelineError as e:
        sys.exit(f"error: {e}")
