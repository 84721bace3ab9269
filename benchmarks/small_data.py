"""Small datasets: Fashion-MNIST cut to a few images per class, trained with no augmentation,
with fixed DiffAugment, and with adaptive augmentation (ADA), at equal steps; beside them the
full-data default at the same steps. One markdown table and one figure of sample grids.

    dvc repro classifier                    # the prepared data and the metrics' feature extractor
    python benchmarks/small_data.py                              # 1,000 and 5,000 images, 8,000 steps
    python benchmarks/small_data.py --sizes 1000 --steps 2000    # a quicker look

Each cut is balanced (the same number of images of every class, drawn with --seed) from the
prepared training split; every run is scored under the evaluation protocol of
conf/evaluation (the full test split, in the classifier's feature space), so its FID compares
with metrics/eval.json. Runs are deterministic: the table is the same on any machine of one
kind, only the seconds differ.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from hydra import compose, initialize_config_dir

from benchmarks.quality import COLUMNS, BenchConfig, figure
from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.config import validate
from pipeline.data.prepared import load_prepared
from pipeline.errors import PipelineError
from pipeline.evaluation.classifier import FeatureExtractor
from pipeline.evaluation.run import evaluate_generator
from pipeline.gan.sampling import latent_dim, sample
from pipeline.io import atomic_path
from pipeline.training import loop
from pipeline.training.settings import GanSettings
from pipeline.viz import image_grid

ROOT = Path(__file__).resolve().parent.parent
# What each cut is trained with, on top of the default config.
SETTINGS = {
    "none": [],
    "DiffAugment": ["augment.diffaugment=[color,translation,cutout]"],
    "ADA": ["augment.ada_target=0.6"],  # the paper's target and speed (500k images 0 -> 1)
    "ADA, 10x faster": ["augment.ada_target=0.6", "augment.ada_speed_images=50000"],
}


def config(overrides: list[str]):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return validate(compose("config", overrides), BenchConfig)


def balanced_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of ``size`` images, the same number of each class, drawn with ``seed``."""
    classes = np.unique(labels)
    if size % len(classes):
        raise PipelineError(
            f"{size} images cannot be split evenly over {len(classes)} classes",
            f"use a multiple of {len(classes)}",
        )
    rng = np.random.default_rng(seed)
    per_class = size // len(classes)
    picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes]
    return np.sort(np.concatenate(picks))


def run(name: str, overrides: list[str], images, labels, data, extractor, evaluation) -> dict:
    cfg = config(overrides)
    started = time.perf_counter()
    result = loop.train(
        images, GanSettings.from_config(cfg), labels=labels,
        num_classes=len(data.meta["class_names"]),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    generator = result.generator
    scores = evaluate_generator(
        lambda z: sample(generator, z), latent_dim(generator), extractor, images,
        data.images("test"), data.meta, evaluation, ROOT / cfg.paths.cache / "eval",
    ).result  # fmt: skip
    last = result.rows[-1]
    return {
        "preset": name,
        "steps": result.steps,
        "seconds": seconds,
        "aug_p": last.get("aug_p"),
        "d_acc_real": last["d_acc_real"],
        **{k: scores[k] for k in COLUMNS},
        "floor_fid": scores["floor"]["fid"],
        "protocol": scores["protocol"]["key"],
        "grid": image_grid(keras.ops.convert_to_numpy(sample(generator, result.fixed_noise))),
    }


def markdown(rows: list[dict], steps: int) -> str:
    full = rows[0]["fid"]
    lines = [
        f"Small data: Fashion-MNIST cut to balanced subsets, {steps:,} steps of the default "
        f"config each (batch 8), 2 CPU cores; protocol {rows[0]['protocol']} (real-vs-real FID "
        f"floor {rows[0]['floor_fid']:.2f}). FID / full: the FID over the full-data default's.",
        "",
        "| training images | augmentation | FID | FID / full | KID | precision | recall "
        "| coverage | D accuracy on reals (last) | p (last) | minutes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = "-" if r["aug_p"] is None else f"{max(r['aug_p'], 0.0):.3f}"  # no -0.000
        lines.append(
            f"| {r['size']:,} | {r['setting']} | {r['fid']:.2f} | {r['fid'] / full:.2f} "
            f"| {r['kid_mean']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} "
            f"| {r['coverage']:.3f} | {r['d_acc_real']:.2f} | {p} | {r['seconds'] / 60:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--steps", type=int, default=8000, help="steps of every run")
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seed", type=int, default=0, help="which images each cut keeps")
    parser.add_argument("--prepared", help="prepared data folder (default: paths.prepared)")
    parser.add_argument("--classifier", help="its classifier (default: paths.classifier)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()

    base = config([])
    out = Artifacts.from_paths(base.paths)
    data = load_prepared(Path(args.prepared) if args.prepared else ROOT / out.prepared)
    extractor = FeatureExtractor(
        artifacts.load_keras_model(
            Path(args.classifier) if args.classifier else ROOT / out.classifier, "classifier"
        ),
        base.evaluation.batch_size,
    )
    steps = [f"training.steps_per_epoch={args.steps}", "training.epochs=1"]
    images, labels = data.images("train"), data.labels("train")
    plan = [(len(images), "none (full data, the default)", [])]
    plan += [(n, s, SETTINGS[s]) for n in args.sizes for s in args.settings]
    for *_, overrides in plan:
        config([*steps, *overrides])  # every typo before training
    rows = []
    for n, setting, overrides in plan:
        keep = slice(None) if n == len(images) else balanced_subset(labels, n, args.seed)
        print(f"training on {n} images, augmentation: {setting}", file=sys.stderr, flush=True)
        row = run(setting, [*steps, *overrides], np.asarray(images[keep]), labels[keep], data,
                  extractor, base.evaluation)  # fmt: skip
        rows.append({**row, "size": n, "setting": setting,
                     "preset": f"{n} images, {setting}"})  # fmt: skip
        print(f"result: { ({k: v for k, v in rows[-1].items() if k != 'grid'}) }", file=sys.stderr)
    stem = f"small-data-{data.meta['dataset']}-{args.steps}steps"
    table_path, figure_path = Path(args.out) / f"{stem}.md", Path(args.out) / f"{stem}.png"
    table_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(table_path) as tmp:
        tmp.write_text(markdown(rows, args.steps))
    with atomic_path(figure_path) as tmp:
        figure(rows, tmp)
    print(table_path.read_text())
    print(f"wrote {table_path} and {figure_path}")


if __name__ == "__main__":
    try:
        main()
    except PipelineError as e:
        sys.exit(f"error: {e}")
