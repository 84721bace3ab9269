"""Training throughput: steps/s and images/s for each model, XLA off and on, in one process.

    python benchmarks/train_throughput.py                    # mlp, dcgan_small, dcgan on 28x28x1
    python benchmarks/train_throughput.py --shape 32,32,3 --steps 10

Compare numbers only within one run (same machine, same load): the XLA column is a ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from hydra import compose, initialize_config_dir

from pipeline.config import validate
from pipeline.stages.train import SECTIONS
from pipeline.training.loop import build_gan, make_dataset, seed_everything

CONF = Path(__file__).resolve().parent.parent / "conf"


def measure(model: str, jit: bool, shape, batch_size: int, steps: int, warmup: int) -> float:
    """Seconds per step over ``steps`` steps, after ``warmup`` steps that include tracing."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "config",
            [f"model={model}", f"training.jit_compile={jit}", f"training.batch_size={batch_size}"],
        )
    cfg = validate(cfg, SECTIONS)
    seed_everything(0, deterministic=False)
    gan = build_gan(
        shape, model=cfg.model, loss=cfg.loss, regularizers=cfg.regularizers,
        training=cfg.training, seed=0,
    )  # fmt: skip
    images = np.random.default_rng(0).uniform(-1, 1, (batch_size * 8, *shape)).astype("float32")
    dataset = make_dataset(images, batch_size, seed=0)
    gan.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0)
    start = time.perf_counter()
    gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mlp", "dcgan_small", "dcgan"])
    parser.add_argument("--shape", default="28,28,1", help="H,W,C")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))

    rows = []
    for model in args.models:
        per_step = {
            jit: measure(model, jit, shape, args.batch_size, args.steps, args.warmup)
            for jit in (False, True)
        }
        rows.append((model, per_step))
        print(f"measured {model}", file=sys.stderr)

    print(
        f"\ntraining throughput, images {args.shape}, batch {args.batch_size}, {args.steps} steps"
    )
    print(f"{'model':<12} {'XLA':<4} {'steps/s':>8} {'images/s':>9} {'XLA speed-up':>13}")
    for model, per_step in rows:
        for jit in (False, True):
            speedup = per_step[False] / per_step[True] if jit else 1.0
            print(
                f"{model:<12} {'on' if jit else 'off':<4} {1 / per_step[jit]:>8.2f} "
                f"{args.batch_size / per_step[jit]:>9.0f} {speedup:>12.2f}x"
            )


if __name__ == "__main__":
    main()
