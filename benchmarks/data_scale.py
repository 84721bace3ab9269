"""Own image folders at scale: peak memory (RSS) of prepare and of training, and the input
pipeline's images/s, against the folder's size, in one run:

    python benchmarks/data_scale.py                                  # 10k@64, 20k@128, 100k@128
    python benchmarks/data_scale.py --sets 2000:64 5000:128 --train-steps 20   # a quick look

For each set (N images, S pixels) it makes a synthetic folder once (under --work): N JPEG
photos of 1.25 S x S pixels (not square) in 4 class folders, smooth colour gradients with an
ellipse, so they compress as photos do. Then, each as its own process, measured by GNU time's
peak resident set size:

- prepare: `python -m pipeline.stages.prepare dataset=image_folder ...` (decoding in parallel
  threads and writing uint8 rows as they come);
- train: the train stage for --train-steps steps at batch --batch-size, the default model
  (`strided_dcgan`), the quality probe off;
- the input pipeline alone: images/s of `make_dataset` over the prepared images, held in memory
  (up to 256 MiB) and read from the memory-mapped file (larger sets; forced here for every set).

Targets (issue 22): prepare of 20,000 128x128 colour images under 800 MB RSS, training on them
under 3 GB, and 100,000 128x128 images prepared and trained on a 24 GB machine. Writes a
markdown table and a figure to benchmarks/results/data-scale.{md,png}. Compare rows of one run
only: machines differ and drift.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from pipeline.logs import hide_native_logs  # noqa: E402

hide_native_logs()  # TensorFlow's C++ lines, as the project's commands hide them
RESULTS = ROOT / "benchmarks" / "results"


def make_folder(folder: Path, count: int, size: int, seed: int = 0) -> Path:
    """``count`` synthetic JPEG photos of (1.25 size) x size, 4 classes; made once."""
    done = folder / ".complete"
    if done.is_file():
        return folder
    from PIL import Image, ImageDraw

    width, height = round(1.25 * size), size
    y, x = np.mgrid[:height, :width].astype(np.float32)

    def one(i: int) -> None:
        rng = np.random.default_rng(seed * 1_000_003 + i)
        base = rng.uniform(0, 255, 3)
        slope = rng.uniform(-1, 1, (2, 3)) * 128 / size
        pixels = base + x[..., None] * slope[0] + y[..., None] * slope[1]
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
        box = sorted(rng.uniform(0, width, 2)), sorted(rng.uniform(0, height, 2))
        ImageDraw.Draw(image).ellipse(
            (box[0][0], box[1][0], box[0][1], box[1][1]), fill=tuple(rng.integers(0, 256, 3))
        )
        path = folder / f"class{i % 4}" / f"{i:06d}.jpg"
        image.save(path, quality=90)

    for k in range(4):
        (folder / f"class{k}").mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(one, range(count)))
    done.write_text(f"{count} {size}\n")
    return folder


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of ``command`` as its own process (GNU time)."""
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "PEAK_KB %M", *command],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    peak = next(line for line in result.stderr.splitlines()[::-1] if line.startswith("PEAK_KB"))
    return int(peak.split()[1]) / 1024, seconds


def pipeline_rate(prepared: Path, batch_size: int, batches: int, streamed: bool) -> float:
    """images/s of the training input pipeline alone over the prepared train split."""
    from pipeline.data.prepared import load_prepared
    from pipeline.training import inputs

    images = load_prepared(prepared).images("train")
    limit = inputs.IN_MEMORY_BYTES
    inputs.IN_MEMORY_BYTES = 0 if streamed else max(limit, images.nbytes)
    try:
        dataset = inputs.make_dataset(images, batch_size, seed=0)
        iterator = iter(dataset)
        next(iterator)  # start-up
        started = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        return batches * batch_size / (time.perf_counter() - started)
    finally:
        inputs.IN_MEMORY_BYTES = limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["10000:64", "20000:128", "100000:128"],
                        help="N:S, N images of S pixels")  # fmt: skip
    parser.add_argument("--work", type=Path, default=Path("/tmp/gan-data-scale"))
    parser.add_argument("--train-steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=RESULTS / "data-scale")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows = []
    for spec in args.sets:
        count, size = (int(v) for v in spec.split(":"))
        work = args.work / f"{count}x{size}"
        started = time.perf_counter()
        raw = make_folder(work / "raw", count, size)
        made = time.perf_counter() - started
        paths = [f"paths.{key}={work / key}" for key in
                 ("prepared", "metrics", "plots", "models", "checkpoints", "classifier", "cache")]  # fmt: skip
        common = ["dataset=image_folder", f"dataset.raw_dir={raw}", f"dataset.image_size={size}",
                  f"hydra.run.dir={work / 'hydra'}", *paths]  # fmt: skip
        prepare_mb, prepare_s = measured(
            [sys.executable, "-m", "pipeline.stages.prepare", *common], env
        )
        prepared_mb = sum(f.stat().st_size for f in (work / "prepared").glob("*.npy")) / 1e6
        train_mb, train_s = measured(
            [sys.executable, "-m", "pipeline.stages.train", *common,
             "training.epochs=1", f"training.steps_per_epoch={args.train_steps}",
             f"training.batch_size={args.batch_size}", "monitor.probe_every_steps=0",
             "checkpoint.resume=false", f"tracking.uri=sqlite:///{work / 'mlflow.db'}"],
            env,
        )  # fmt: skip
        in_memory = pipeline_rate(work / "prepared", args.batch_size, 200, streamed=False)
        streamed = pipeline_rate(work / "prepared", args.batch_size, 200, streamed=True)
        rows.append({
            "images": count, "pixels": size, "prepared_mb": prepared_mb, "made_s": made,
            "prepare_mb": prepare_mb, "prepare_s": prepare_s, "train_mb": train_mb,
            "train_s": train_s, "in_memory": in_memory, "streamed": streamed,
        })  # fmt: skip
        print(rows[-1], flush=True)
    write_results(rows, args)


def write_results(rows: list[dict], args: argparse.Namespace) -> None:
    from pipeline.viz import save_figure, subplots

    lines = [
        f"# Own image folders at scale ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)",
        "",
        f"`python benchmarks/data_scale.py --sets {' '.join(args.sets)} --train-steps "
        f"{args.train_steps} --batch-size {args.batch_size}`. Peak RSS of each stage as its own "
        "process (GNU time); the input pipeline's images/s in memory and streamed from the "
        "memory-mapped file.",
        "",
        "| images | pixels | prepared (uint8) | prepare: peak RSS | prepare | train: peak RSS | "
        f"train ({args.train_steps} steps) | input, in memory | input, streamed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['images']:,} | {r['pixels']} | {r['prepared_mb']:,.0f} MB | "
            f"{r['prepare_mb']:,.0f} MB | {r['prepare_s']:.0f} s ({r['images'] / r['prepare_s']:,.0f}"
            f" images/s) | {r['train_mb']:,.0f} MB | {r['train_s']:.0f} s | "
            f"{r['in_memory']:,.0f} images/s | {r['streamed']:,.0f} images/s |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    fig, (memory, speed) = subplots(1, 2, figsize=(10, 3.6))
    labels = [f"{r['images'] // 1000}k @ {r['pixels']}px" for r in rows]
    at = np.arange(len(rows))
    memory.bar(at - 0.2, [r["prepare_mb"] for r in rows], 0.4, label="prepare")
    memory.bar(at + 0.2, [r["train_mb"] for r in rows], 0.4, label="train")
    memory.plot(at, [r["prepared_mb"] for r in rows], "k.--", label="prepared data on disk")
    memory.set_ylabel("peak RSS (MB)")
    speed.bar(at - 0.2, [r["in_memory"] for r in rows], 0.4, label="in memory")
    speed.bar(at + 0.2, [r["streamed"] for r in rows], 0.4, label="streamed from disk")
    speed.set_ylabel("input pipeline (images/s)")
    for ax, title in ((memory, "memory against folder size"), (speed, "input pipeline")):
        ax.set_xticks(at, labels)
        ax.set_title(title)
        ax.legend(loc="best")
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    save_figure(fig, args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.md')} and .png")


if __name__ == "__main__":
    main()
