"""Do the metrics move the right way on real data, in every feature space? Real Fashion-MNIST
and real colour photos (crops of the sample photos scikit-learn and matplotlib ship), degraded
by growing Gaussian noise, blur and JPEG compression and by dropped classes, each scored
against other real images of the same data (pipeline.evaluation.sanity). Writes the table and
the plot of docs/metrics.md:

    python benchmarks/metric_sanity.py            # 1,000 images per set (classifier), 400 (inception)
    python benchmarks/metric_sanity.py --inception-n 200
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from pipeline.evaluation import sanity  # noqa: E402
from tests.helpers.files import SYSTEM_FASHION_MNIST  # noqa: E402
from tests.helpers.photos import PHOTOS, photo_crops  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SHOWN = ("fid", "kid_mean", "precision", "recall", "coverage")


def fashion_mnist(n: int, classifier_images: int = 10000) -> dict:
    from pipeline.data.readers import read_local

    raw = read_local("fashion_mnist", SYSTEM_FASHION_MNIST)
    train_images, train_labels = raw.train[0][:12000], raw.train[1][:12000]
    return {
        "train": (train_images[:classifier_images], train_labels[:classifier_images]),
        "reference": raw.test[0][:n],  # real test images
        "candidates": (train_images[-n:], train_labels[-n:]),  # other real images
    }


def photos(n: int, classifier_images: int = 1500) -> dict:
    train = photo_crops(classifier_images, seed=10)
    return {"train": train, "reference": photo_crops(n, seed=11)[0],
            "candidates": photo_crops(n, seed=12)}  # fmt: skip


def classifier_features(train: tuple[np.ndarray, np.ndarray]):
    from pipeline.data.prepared import normalize
    from pipeline.evaluation.classifier import FeatureExtractor, train_classifier

    images, labels = train
    model, accuracy = train_classifier(
        (normalize(images), labels), (normalize(images[:1000]), labels[:1000]),
        int(labels.max()) + 1, epochs=2, batch_size=128, learning_rate=1e-3, feature_dim=128,
        seed=0,
    )  # fmt: skip
    extractor = FeatureExtractor(model)
    return (lambda x: extractor(x)[0]), accuracy


def run(
    n_classifier: int,
    n_inception: int,
    datasets=("fashion_mnist", "photos"),
    classifier_images: dict[str, int] | None = None,
) -> dict:
    """{(dataset, space): [Row, ...]} for every dataset and feature space; the classifier of
    each dataset trains on ``classifier_images[dataset]`` images (default: the loaders')."""
    from pipeline.evaluation.spaces.inception import InceptionSpace

    inception = InceptionSpace(batch_size=50).features
    loaders = {"fashion_mnist": fashion_mnist, "photos": photos}
    grids = {}
    for name in datasets:
        for space, n in (("classifier", n_classifier), ("inception", n_inception)):
            sizes = {"classifier_images": classifier_images[name]} if classifier_images else {}
            data = loaders[name](n, **sizes)
            if space == "classifier":
                features, _ = classifier_features(data["train"])
            else:
                features = inception
            started = time.perf_counter()
            grids[(name, space)] = sanity.sanity_grid(
                features, data["reference"], *data["candidates"]
            )
            print(f"{name} in {space}: {time.perf_counter() - started:.0f}s", flush=True)
    return grids


def markdown(grids: dict, n_classifier: int, n_inception: int) -> str:
    lines = [
        f"# Metric sanity ({date.today()}, {os.cpu_count()} CPU cores)",
        "",
        f"Real images (another real split: the floor) degraded step by step, each set of "
        f"{n_classifier:,} (classifier space) or {n_inception:,} (inception) images scored "
        "against as many real test images (`benchmarks/metric_sanity.py`). Levels: noise "
        f"sigma {sanity.LEVELS['noise']} (uint8 steps), blur sigma {sanity.LEVELS['blur']} px, "
        f"JPEG quality {sanity.LEVELS['jpeg']}, classes dropped {sanity.LEVELS['modes']} "
        f"(Fashion-MNIST: of 10; photos: of {len(PHOTOS)}).",
        "",
    ]
    for (dataset, space), rows in grids.items():
        wrong = sanity.violations(rows)
        verdict = "every score moves the right way" if not wrong else "; ".join(wrong)
        lines += [f"## {dataset}, {space} features: {verdict}", "",
                  "| degradation | level | " + " | ".join(SHOWN) + " |",
                  "|---|---|" + "---|" * len(SHOWN)]  # fmt: skip
        for r in rows:
            name = "none (real vs real: the floor)" if r.degradation == "none" else r.degradation
            values = " | ".join(f"{r.scores[k]:.4g}" for k in SHOWN)
            lines.append(f"| {name} | {r.level:g} | {values} |")
        lines.append("")
    return "\n".join(lines)


def plot(grids: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(sanity.LEVELS)
    fig, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3.6), sharey=True)
    for ax, kind in zip(axes, kinds, strict=True):
        for (dataset, space), rows in grids.items():
            values = sanity.series(rows, kind, "fid")
            steps = range(len(values))
            ax.plot(steps, np.array(values) / values[0], marker="o", label=f"{dataset}, {space}")
        ax.set_title(f"{kind}: levels {', '.join(f'{v:g}' for v in sanity.LEVELS[kind])}")
        ax.set_xlabel("degradation step (0: undegraded real images)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("FID / FID of undegraded real images")
    axes[-1].legend(fontsize=8)
    fig.suptitle("FID rises with every degradation, in both feature spaces")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier-n", type=int, default=1000)
    parser.add_argument("--inception-n", type=int, default=400)
    args = parser.parse_args()
    grids = run(args.classifier_n, args.inception_n)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "metric-sanity.md").write_text(markdown(grids, args.classifier_n, args.inception_n))
    plot(grids, RESULTS / "metric-sanity.png")
    print(f"wrote {RESULTS / 'metric-sanity.md'} and metric-sanity.png")


if __name__ == "__main__":
    main()
