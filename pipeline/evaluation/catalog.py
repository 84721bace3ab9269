"""Every metric the evaluation reports, named once: its key, which way is better, where it is
computed, its unit and what it means. Evaluate, register (promotion and vetoes), the sweep
objective, the model card, the MLflow logging, the CI report and docs/metrics.md read it here.

A score's value only compares with another under the same protocol (eval.json's ``protocol``:
real data, feature space and weights, sample counts); ``space`` says whether a metric depends on
the feature space (then its name is shown with it, e.g. "FID (inception)").
"""

from __future__ import annotations

from pipeline.evaluation.metric import EVAL, Metric
from pipeline.evaluation.scores import FEATURE_SCORES

BUILT_IN: tuple[Metric, ...] = (
    Metric("fid", "FID", "lower", True, "squared feature distance",
           "Frechet distance between Gaussians fitted to real and generated features (Heusel "
           "et al. 2017); biased upwards at small N: compare at equal N", floor=True,
           objective=True, headline=True),
    Metric("kid_mean", "KID", "lower", True, "squared MMD",
           "kernel distance with the cubic kernel, unbiased, mean over random subsets "
           "(Binkowski et al. 2018): the score to trust at small N", floor=True, objective=True,
           headline=True),
    Metric("precision", "precision", "higher", True, "share of generated images",
           "generated images inside the real images' k-NN balls (k=3): fidelity "
           "(Kynkaanniemi et al. 2019)", floor=True, headline=True),
    Metric("recall", "recall", "higher", True, "share of real images",
           "real images inside the generated images' k-NN balls (k=3): variety", floor=True,
           headline=True),
    Metric("density", "density", "higher", True, "ratio",
           "how many real k-NN balls (k=5) hold each generated image, over k; about 1 for "
           "real-like images (Naeem et al. 2020)", floor=True),
    Metric("coverage", "coverage", "higher", True, "share of real images",
           "real images with a generated image inside their k-NN ball (k=5): variety that "
           "outliers do not inflate", floor=True, headline=True),
    Metric("classifier_score", "classifier score", "higher", True, "exp(nats)",
           "the Inception Score computed with the data's classifier: confident and varied "
           "class predictions", floor=True, needs_classes=True),
    Metric("classes_covered", "classes covered", "higher", True, "classes",
           "classes that get at least a tenth of their fair share of generated images",
           floor=True, needs_classes=True),
    Metric("label_accuracy", "label accuracy", "higher", True, "share of generated images",
           "a conditional generator's images that the classifier assigns to the class asked "
           "for (mean over classes)", needs_classes=True, headline=True),
    Metric("per_class_fid_mean", "per-class FID (mean)", "lower", True,
           "squared feature distance",
           "each class's generated images against that class's real images, averaged",
           needs_classes=True, objective=True),
    Metric("memorisation_ratio", "memorisation ratio", "higher", False, "ratio (pixels)",
           "median pixel distance of generated images to their nearest training image over the "
           "same for real test images; well below 1 means copying"),
    Metric("utility_real", "utility: real only", "higher", False, "accuracy",
           "a classifier trained on a small real subset, tested on real test images",
           needs_classes=True),
    Metric("utility_augmented", "utility: real + generated", "higher", False, "accuracy",
           "the same classifier trained on the subset plus generated images", needs_classes=True),
    Metric("utility_synthetic", "utility: generated only (CAS)", "higher", False, "accuracy",
           "trained on generated images only: the Classification Accuracy Score",
           needs_classes=True),
)  # fmt: skip

# and the scores of pipeline/evaluation/scores/, one module each (plug-ins)
METRICS: tuple[Metric, ...] = BUILT_IN + tuple(
    FEATURE_SCORES.get(name).metric for name in FEATURE_SCORES.names()
)
BY_KEY = {metric.key: metric for metric in METRICS}
FID, KID = BY_KEY["fid"], BY_KEY["kid_mean"]
OBJECTIVES = tuple(metric.key for metric in METRICS if metric.objective)
HEADLINE = tuple(metric.key for metric in METRICS if metric.headline)
FLOORED = tuple(metric for metric in METRICS if metric.floor)


def mlflow_key(key: str, section: str = EVAL) -> str:
    """``fid`` -> ``eval/fid``."""
    return f"{section}/{key}"


BEGIN, END = "<!-- metric catalog: begin -->", "<!-- metric catalog: end -->"


def markdown_table() -> str:
    """docs/metrics.md's table, between BEGIN and END (a test checks the page holds it;
    ``python -m pipeline.evaluation.catalog docs/metrics.md`` rewrites it there)."""
    rows = [
        "| key | metric | better | depends on the feature space | unit | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for m in METRICS:
        space = "yes" + (" (needs its class predictions)" if m.needs_classes else "")
        rows.append(
            f"| `{m.key}` | {m.name} | {m.better} | {space if m.space else 'no'} | {m.unit} | "
            f"{m.meaning} |"
        )
    return "\n".join(rows)


def refresh(page: str) -> str:
    """``page`` with the table between its markers replaced by the current one."""
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{markdown_table()}\n{END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/metrics.md")
    target.write_text(refresh(target.read_text()))
    print(f"wrote the metric catalog's table into {target}")
