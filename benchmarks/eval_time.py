"""Evaluation time. `--spaces`: images/s of each feature space (the classifier's CNN and the
FID Inception network) on synthetic images of the pipeline's sizes, and the process's peak RSS;
no pipeline outputs needed. Otherwise: the default evaluation of N generated images, by part,
cold (real features computed) and warm (from the cache), from the pipeline's outputs (run
`dvc repro` first).

    python benchmarks/eval_time.py --spaces      # images/s per feature space
    python benchmarks/eval_time.py               # N = 10,000 against 10,000 test images
    python benchmarks/eval_time.py --n 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.data.prepared import load_prepared  # noqa: E402
from pipeline.evaluation import metrics as m  # noqa: E402
from pipeline.evaluation import report  # noqa: E402
from pipeline.evaluation.classifier import FeatureExtractor  # noqa: E402
from pipeline.gan.sampling import latent_dim, sample  # noqa: E402


def timed(label: str, times: dict, fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    times[label] = time.perf_counter() - start
    return value


def run_once(generator, extractor, test, train, n: int, cache: Path) -> dict[str, float]:
    t: dict[str, float] = {}
    real = timed("real features (or cache)", t, report.RealReference.load_or_compute,
                 test[:n], extractor, cache)  # fmt: skip
    fake = timed("generate", t, report.generate_images,
                 lambda z: sample(generator, z), n, latent_dim(generator), 0)  # fmt: skip
    features, probs = timed("fake features", t, extractor, fake)
    timed("fid", t, lambda: m.frechet_distance(m.gaussian_stats(features), real.stats))
    timed("kid (100 x 1000)", t, m.kernel_distance, features, real.features)
    timed("precision/recall/density/coverage", t, m.prdc, real.features, features)
    timed("classifier score + classes", t, m.classifier_score, probs)
    timed("memorisation (1000 vs train)", t, report.memorisation, fake, test, train, 1000)
    t["total"] = sum(t.values())
    return t


SIZES = ((28, 28, 1), (32, 32, 3), (64, 64, 3))  # Fashion-MNIST, CIFAR-10, folder64


def feature_space_speeds(n: int = 300, batch: int = 50) -> list[dict]:
    """Images/s of each feature space at each of SIZES (after a warm-up call that traces)."""
    import resource

    from pipeline.evaluation.classifier import build_classifier
    from pipeline.evaluation.spaces.classifier import ClassifierSpace
    from pipeline.evaluation.spaces.inception import InceptionSpace

    inception = InceptionSpace(batch_size=batch)
    rng = np.random.default_rng(0)
    rows = []
    for shape in SIZES:
        images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        classifier = ClassifierSpace(FeatureExtractor(build_classifier(shape, 10), 1000))
        for name, space in (("classifier", classifier), ("inception", inception)):
            space.features(images[:batch])  # traces the call
            start = time.perf_counter()
            space.features(images)
            seconds = time.perf_counter() - start
            rows.append({"space": name, "size": "x".join(map(str, shape)),
                         "images_per_s": n / seconds})  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for row in rows:
        row["peak_rss_mb"] = peak_mb
    return rows


def speeds_markdown(rows: list[dict], device: str) -> str:
    lines = [f"Feature extraction on {device} (batch 50 for Inception; peak RSS of the process "
             f"{rows[0]['peak_rss_mb']:,.0f} MB)", "",
             "| feature space | image size | images/s |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {r['space']} | {r['size']} | {r['images_per_s']:,.1f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--spaces", action="store_true", help="images/s per feature space")
    args = parser.parse_args()
    if args.spaces:
        print(speeds_markdown(feature_space_speeds(), f"{os.cpu_count()} CPU cores"))
        return
    data = load_prepared(ROOT / "data" / "prepared")
    generator = keras.models.load_model(ROOT / "models" / "generator.keras", compile=False)
    extractor = FeatureExtractor(
        keras.models.load_model(ROOT / "classifier" / "model.keras", compile=False)
    )
    test, train = np.asarray(data.images("test")), np.asarray(data.images("train"))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "real.npz"
        cold = run_once(generator, extractor, test, train, args.n, cache)
        warm = run_once(generator, extractor, test, train, args.n, cache)
    print(f"\nevaluation of {args.n} generated vs {args.n} real images ({data.meta['dataset']})")
    print(f"{'part':<36} {'cold s':>8} {'warm s':>8}")
    for part in cold:
        print(f"{part:<36} {cold[part]:>8.2f} {warm[part]:>8.2f}")


if __name__ == "__main__":
    main()
