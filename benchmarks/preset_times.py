"""Expected training time of each preset: seconds a step measured here, times the preset's steps.

    python benchmarks/preset_times.py                  # writes benchmarks/results/preset-times.json
    python benchmarks/preset_times.py --steps 40 --warmup 10

For the default and every `conf/experiment/` preset: compose it, build its GAN for its data's
image shape, train ``--steps`` steps on random images of that shape at the preset's batch size,
threads and steps per call (after ``--warmup`` steps that include compiling), and multiply the
seconds a step by the preset's total steps (epochs x steps per epoch; an epoch of one pass over
the data counts the dataset's training images, 1,000 for an image folder). Unconditional steps
are timed (a conditional one adds a label embedding: a few percent).

The GPU column is an estimate, not a measurement: the step's FLOPs (benchmarks/train_throughput.py
counts them) at GPU_TFLOPS sustained, but never under GPU_MIN_STEP_S a step (launch overheads
bound small models). `python -m pipeline.reference` shows both in the configuration reference.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hydra import compose, initialize_config_dir

from benchmarks.train_throughput import forward_macs, seconds_per_step
from pipeline.config import validate
from pipeline.data.specs import image_shape
from pipeline.stages.train import TrainConfig
from pipeline.training import distribute
from pipeline.training.build import build_gan, seed_everything
from pipeline.training.settings import GanSettings

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "preset-times.json"
# Training images of each source; a folder's are the user's (1,000 stands for them here).
TRAIN_IMAGES = {"fashion_mnist": 60_000, "mnist": 60_000, "cifar10": 50_000, "image_folder": 1_000}
GPU_TFLOPS = 50.0  # sustained mixed-precision throughput assumed for one data-centre GPU
GPU_MIN_STEP_S = 0.002  # a step's floor on a GPU: kernel launches and the optimiser updates


def presets() -> list[str]:
    return ["default", *sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))]


def settings_of(preset: str) -> tuple[TrainConfig, GanSettings]:
    overrides = [] if preset == "default" else [f"experiment={preset}"]
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = validate(compose("config", [*overrides, "training.conditional=false"]), TrainConfig)
    settings = GanSettings.from_config(cfg)
    settings.seed = 0
    return cfg, settings


def total_steps(cfg: TrainConfig) -> int:
    t = cfg.training
    images = min(TRAIN_IMAGES[cfg.dataset.name], cfg.dataset.limit or math.inf)
    return int(t.epochs * (t.steps_per_epoch or images // t.batch_size))


def time_preset(preset: str, steps: int, warmup: int) -> dict[str, object]:
    """In this process, which must not have run TensorFlow yet (its threads are the preset's)."""
    cfg, settings = settings_of(preset)
    distribute.threads(cfg.compute.intra_op_threads, cfg.compute.inter_op_threads)
    d = cfg.dataset
    shape = image_shape(d)
    seed_everything(0, deterministic=False)
    gan = build_gan(shape, settings)
    batch = cfg.training.batch_size
    per_step = seconds_per_step(gan, shape, batch, steps, warmup, cfg.compute.steps_per_execution)
    g_macs, d_macs = forward_macs(gan.generator), forward_macs(gan.discriminator)
    step_flops = 2 * (4 * g_macs + 8 * d_macs) * batch
    n = total_steps(cfg)
    gpu_step = max(step_flops / (GPU_TFLOPS * 1e12), GPU_MIN_STEP_S)
    return {
        "dataset": d.name,
        "shape": list(shape),
        "batch_size": batch,
        "steps": n,
        "cpu_s_per_step": round(per_step, 5),
        "cpu_s": round(per_step * n),
        "gpu_estimate_s": round(gpu_step * n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--machine", default="one 2-core CPU machine, no GPU")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: one preset
    args = parser.parse_args()
    if args.one:
        print(json.dumps(time_preset(args.one, args.steps, args.warmup)))
        return
    rows = {}
    for preset in presets():  # one process each: TensorFlow's threads are set once a process
        child = subprocess.run(
            [sys.executable, __file__, "--one", preset, "--steps", str(args.steps),
             "--warmup", str(args.warmup)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows[preset] = json.loads(child.stdout.strip().splitlines()[-1])
        print(preset, rows[preset], file=sys.stderr)
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": args.machine,
        "measured": f"{args.steps} steps after {args.warmup} of warm-up, random images",
        "gpu_estimate": f"not measured: step FLOPs at {GPU_TFLOPS:.0f} TFLOP/s, at least "
        f"{GPU_MIN_STEP_S * 1000:.0f} ms a step",
        "presets": rows,
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
