"""Evaluation time for N generated images, by part, cold (real features computed) and warm
(real features from the cache), in one process. Uses the pipeline's outputs: run `dvc repro`
(or the prepare, train and classifier stages) first.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    args = parser.parse_args()
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
