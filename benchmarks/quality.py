"""Quality per CPU-second: train presets for the same wall-clock budget, score each under one
evaluation protocol, write a markdown table and one figure of sample grids side by side.

    dvc repro classifier                   # the prepared data and the metrics' feature extractor
    python benchmarks/quality.py --minutes 5
    python benchmarks/quality.py --minutes 10 --preset model=dcgan_small --preset model=compact_dcgan

A preset is a list of Hydra overrides separated by spaces. Every preset trains on the prepared
data in paths.prepared (the same for all) and is scored against the first evaluation.num_real
test images in the feature space of the classifier in paths.classifier, so the numbers compare
with each other and with metrics/eval.json. Compare only within one run: machines differ.
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

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.config import EvaluationConfig, validate
from pipeline.data.prepared import load_prepared
from pipeline.errors import PipelineError
from pipeline.evaluation.classifier import FeatureExtractor
from pipeline.evaluation.run import evaluate_generator
from pipeline.stages.train import SECTIONS
from pipeline.training import loop
from pipeline.viz import image_grid

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PRESETS = [
    "model=dcgan_small",
    "model=compact_dcgan",
    # The tutorial's optimiser: Adam(1e-4) with Keras's default betas.
    "model=tf_tutorial_dcgan training.generator_lr=1e-4 training.discriminator_lr=1e-4 "
    "training.beta_1=0.9",
]
COLUMNS = ["fid", "kid_mean", "precision", "recall", "density", "coverage", "classes_covered"]


def run_preset(overrides: list[str], seconds: float, extractor, data, evaluation) -> dict:
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", [*overrides, "training.epochs=1000"])
    cfg = validate(cfg, {**SECTIONS, "evaluation": EvaluationConfig})
    started = time.perf_counter()
    result = loop.train(
        data.images("train"), model=cfg.model, loss=cfg.loss, regularizers=cfg.regularizers,
        training=cfg.training, seed=cfg.seed, callbacks=[loop.TimeBudget(seconds)],
    )  # fmt: skip
    trained_s = time.perf_counter() - started
    generator = result.gan.generator
    scores = evaluate_generator(
        lambda z: generator(z, training=False), int(generator.input_shape[-1]), extractor,
        data.images("train"), data.images("test"), data.meta, evaluation,
        ROOT / cfg.paths.cache / "eval",
    ).result  # fmt: skip
    grid = image_grid(keras.ops.convert_to_numpy(generator(result.fixed_noise, training=False)))
    return {
        "preset": " ".join(overrides),
        "steps": result.steps,
        "seconds": trained_s,
        "images_per_s": result.steps * cfg.training.batch_size / trained_s,
        **{k: scores[k] for k in COLUMNS},
        "floor_fid": scores["floor"]["fid"],
        "protocol": scores["protocol"]["key"],
        "grid": grid,
    }


def markdown(rows: list[dict], minutes: float, dataset: str) -> str:
    lines = [
        f"Quality at equal wall-clock: {minutes:g} min of training each on {dataset}, 2 CPU cores "
        f"unless said otherwise; protocol {rows[0]['protocol']} (real-vs-real FID floor "
        f"{rows[0]['floor_fid']:.2f}).",
        "",
        "| preset | steps | images/s | FID | KID | precision | recall | density | coverage "
        "| classes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['preset']}` | {r['steps']} | {r['images_per_s']:.0f} | {r['fid']:.2f} "
            f"| {r['kid_mean']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} "
            f"| {r['density']:.3f} | {r['coverage']:.3f} | {r['classes_covered']} |"
        )
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(4 * len(rows), 4.8))
    for ax, r in zip(np.atleast_1d(axes), rows, strict=True):
        ax.imshow(r["grid"], cmap="gray" if r["grid"].ndim == 2 else None)
        ax.set_title(f"{r['preset'].split()[0]}\nFID {r['fid']:.1f}", fontsize=9)
        ax.axis("off")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--preset", action="append", help="Hydra overrides, space-separated")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    presets = [p.split() for p in (args.preset or DEFAULT_PRESETS)]

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        base = validate(compose("config"), {"evaluation": EvaluationConfig})
    out = Artifacts.from_paths(base.paths)
    data = load_prepared(ROOT / out.prepared)
    extractor = FeatureExtractor(
        artifacts.load_keras_model(ROOT / out.classifier, "classifier"), base.evaluation.batch_size
    )
    rows = []
    for overrides in presets:
        print(f"training {' '.join(overrides)} for {args.minutes:g} min", file=sys.stderr)
        rows.append(run_preset(overrides, 60 * args.minutes, extractor, data, base.evaluation))
    # Names built whole: with_suffix would read "0.5min" as a stem "0" and a suffix ".5min".
    stem = f"quality-{data.meta['dataset']}-{args.minutes:g}min"
    table_path, figure_path = Path(args.out) / f"{stem}.md", Path(args.out) / f"{stem}.png"
    table_path.parent.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, args.minutes, data.meta["dataset"])
    table_path.write_text(table)
    figure(rows, figure_path)
    print(table)
    print(f"wrote {table_path} and {figure_path}")


if __name__ == "__main__":
    try:
        main()
    except PipelineError as e:
        sys.exit(f"error: {e}")
