"""Does the generator help a classifier? The downstream-utility evaluation of the committed
generator at several fractions of the real training data, in one process. Uses the pipeline's
outputs: run `dvc repro` first.

    python benchmarks/utility.py                          # 1% and 10%, the evaluate settings
    python benchmarks/utility.py --fractions 0.01 0.1 --out docs/results/utility.md

Each row trains three classifiers of the feature classifier's architecture for the same number
of steps: on the real subset, on it plus the generated images, and on generated images only
(the Classification Accuracy Score); each is scored on the whole real test split.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import yaml  # noqa: E402

from pipeline.data.prepared import load_prepared  # noqa: E402
from pipeline.evaluation.utility import downstream_utility  # noqa: E402
from pipeline.io import atomic_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--out", type=Path, default=None, help="a markdown table, as well")
    args = parser.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    e = params["evaluation"]
    data = load_prepared(ROOT / "data" / "prepared")
    generator = keras.models.load_model(ROOT / "models" / "generator.keras", compile=False)
    train = (data.images("train"), data.labels("train"))
    test = (data.images("test"), data.labels("test"))
    classes = len(data.meta["class_names"])
    rows = []
    for fraction in args.fractions:
        settings = {**e["utility"], "real_fraction": fraction}
        started = time.perf_counter()
        scores = downstream_utility(generator, train, test, classes, settings, e["classifier"],
                                    e["seed"])  # fmt: skip
        seconds = time.perf_counter() - started
        real_images = round(fraction * len(train[1]))
        rows.append(
            f"| {fraction:.0%} ({real_images:,}) | {scores['utility_real']:.3f} | "
            f"{scores['utility_augmented']:.3f} | {scores['utility_synthetic']:.3f} | "
            f"{seconds:.0f} s |"
        )
        print(rows[-1], flush=True)
    u = e["utility"]
    table = "\n".join([
        f"Generator `models/generator.keras` on {data.meta['dataset']}; "
        f"{u['generated_per_class']} generated images per class, {u['steps']} training steps "
        f"of batch {e['classifier']['batch_size']} for each classifier; accuracy on the "
        f"{len(test[1]):,} real test images.",
        "",
        "| real training data | real only | real + generated | generated only (CAS) | time |",
        "|---|---|---|---|---|",
        *rows,
    ])  # fmt: skip
    print("\n" + table)
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(table + "\n")


if __name__ == "__main__":
    main()
