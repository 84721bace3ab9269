"""The model card of a registered generator: markdown a person reads before shipping it.

Written from what the stages left (eval.json, train.json, the prepared data's meta), what the
training run recorded (architecture, hardware, commit) and the registry's decision. No MLflow
here: register puts the text in the version's description (the MLflow UI renders it) and logs it
as ``model_card.md`` beside the labelled sample sheets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.evaluation.catalog import FID, FLOORED, KID

WEAKEST = 3  # classes named as the weakest
# register.json's comparison keys of the scores compared with the champion
COMPARED = {FID.key: "fid", KID.key: "kid"}


@dataclass(frozen=True)
class CardInputs:
    """What the card is written from."""

    model_name: str
    version: str
    evaluation: Mapping[str, Any]  # metrics/eval.json
    training: Mapping[str, Any]  # metrics/train.json
    data_meta: Mapping[str, Any]  # the prepared data's meta.json
    run: Mapping[str, str]  # the training run's id, model, loss, hardware, git commit, ...
    generator_parameters: int
    decision: str  # "champion" or "challenger"
    reason: str
    # register.json's comparison with the champion: metric -> difference record
    comparison: Mapping[str, Any] = field(default_factory=dict)
    artifacts: Sequence[str] = ()  # the run's artifacts the card points to


def render(card: CardInputs) -> str:
    e = card.evaluation
    lines = [
        f"# {card.model_name} v{card.version}: {card.decision}",
        "",
        f"**Decision: {card.decision}.** {card.reason}",
        "",
        *_what_it_is(card),
        *_data(card.data_meta),
        *_scores(e, card.comparison),
        *_per_class(e, card.comparison),
        *_memorisation(e, card.comparison),
        *_utility(e),
        *_limits(e, card.data_meta),
        *_how_to_use(card),
    ]
    return "\n".join(lines) + "\n"


def _what_it_is(card: CardInputs) -> list[str]:
    t, run = card.training, card.run
    conditional = card.evaluation.get("conditional", bool(card.evaluation.get("per_class")))
    kind = "class-conditional" if conditional else "unconditional"
    minutes, seconds = divmod(int(t.get("train_seconds", 0)), 60)
    rows = [
        ("architecture", f"{run.get('model', '?')} ({kind}), loss {run.get('loss', '?')}"),
        ("generator parameters", f"{card.generator_parameters:,}"),
        ("training", f"{int(t.get('steps', 0)):,} steps in {minutes} min {seconds} s, "
                     f"{t.get('images_per_s', 0):,.0f} images/s"),
        ("hardware", run.get("hardware", "not recorded")),
        ("git commit", f"`{run.get('git_commit', 'unknown')}`" + (
            f", DVC experiment `{run['dvc_experiment']}`" if run.get("dvc_experiment") else "")),
        ("made by", f"gan-pipeline {run.get('pipeline_version', 'not recorded')}"),
        ("MLflow run", f"`{run.get('run_id', '?')}`"),
    ]  # fmt: skip
    return ["## What it is", "", *_table(("", ""), rows), ""]


def _data(meta: Mapping[str, Any]) -> list[str]:
    shape = "x".join(str(x) for x in meta.get("shape", []))
    counts = meta.get("counts", {})
    rows = [
        ("source", str(meta.get("title") or meta.get("dataset"))),
        ("images", f"{shape} pixels; " + ", ".join(f"{n:,} {s}" for s, n in counts.items())),
        ("checksum", f"`{meta.get('checksum', '?')}`"),
        ("classes", ", ".join(meta.get("class_names", []))),
    ]
    per_class = meta.get("class_counts") or {}
    if per_class:
        rows.append(("images per class", ", ".join(f"{k} {v:,}" for k, v in per_class.items())))
    return ["## Data", "", *_table(("", ""), rows), ""]


def _scores(e: Mapping[str, Any], comparison: Mapping[str, Any]) -> list[str]:
    p = e["protocol"]
    space = p.get("feature_space", "classifier")
    rows = []
    for m in FLOORED:
        if m.key not in e:
            continue
        versus = comparison.get(COMPARED.get(m.key, ""), {})
        rows.append((
            m.shown(space), _num(e[m.key]), _num(e.get("floor", {}).get(m.key)),
            f"{m.better} is better", _versus(versus),
        ))  # fmt: skip
    caveat = [f"Note: FID of {e['fid_caveat']}.", ""] if e.get("fid_caveat") else []
    return [
        "## Scores",
        "",
        f"In the **{space}** feature space: {p['num_generated']:,} generated images against "
        f"{p['num_real']:,} real {p['real_split']} images, protocol `{p['key']}`. The floor is "
        "what real images of the other split score: the best a generator can expect.",
        "",
        *caveat,
        *_table(
            (
                "score",
                "this version",
                "real-vs-real floor",
                "better when",
                "vs champion (interval)",
            ),
            rows,
        ),
        "",
    ]


def _per_class(e: Mapping[str, Any], comparison: Mapping[str, Any]) -> list[str]:
    per_class = e.get("per_class")
    if not per_class:
        missing = e.get("per_class_missing")
        return ["## Per class", "", f"Not scored: {missing}.", ""] if missing else []
    versus = comparison.get("per_class_fid", {})
    rows = [
        (name, _num(s.get("fid")), _num(s.get("accuracy")), _versus(versus.get(name, {})))
        for name, s in per_class.items()
    ]
    scored = [(name, s) for name, s in per_class.items() if s.get("fid") is not None]
    weakest = sorted(scored, key=lambda item: -item[1]["fid"])[:WEAKEST]
    named = ", ".join(
        f"{name} (FID {s['fid']:.2f}"
        + (f", label accuracy {s['accuracy']:.1%})" if "accuracy" in s else ")")
        for name, s in weakest
    )
    accuracy = (
        "Label accuracy: the share of a class's images that the classifier assigns to it "
        f"(mean {e['label_accuracy']:.1%})."
        if "label_accuracy" in e
        else f"Label accuracy: not scored: {e.get('label_accuracy_missing', 'no class predictions')}."
    )
    weakest_said = (
        f"Weakest classes by FID: {named}."
        if named
        else "No class has a FID here (too few images of a class for the feature dimensions)."
    )
    return [
        "## Per class",
        "",
        f"{accuracy} {weakest_said} "
        "`evaluation/eval_samples.png` shows each class's samples in a row.",
        "",
        *_table(
            (
                "class",
                "FID (lower is better)",
                "label accuracy (higher is better)",
                "vs champion (interval)",
            ),
            rows,
        ),
        "",
    ]


def _memorisation(e: Mapping[str, Any], comparison: Mapping[str, Any]) -> list[str]:
    ratio = e.get("memorisation_ratio")
    if ratio is None:
        return []
    verdict = (
        "generated images sit nearer the training images than unseen real images do: "
        "it may copy its training data"
        if ratio < 0.9
        else "no sign of copying"
    )
    return [
        "## Memorisation",
        "",
        f"Memorisation ratio {ratio:.3f} (near 1 or above is good; well below 1 means copying): "
        f"{verdict}. Median distance to the nearest training image "
        f"{e.get('nn_distance_generated_median', 0):.2f} for generated images, "
        f"{e.get('nn_distance_real_median', 0):.2f} for real test images; closest generated "
        f"image {e.get('nn_distance_generated_min', 0):.2f}. "
        "`evaluation/nearest_neighbours.png` shows the closest pairs. Against the champion "
        f"(higher is better): {_versus(comparison.get('memorisation_ratio', {}))}.",
        "",
    ]


def _utility(e: Mapping[str, Any]) -> list[str]:
    if "utility_real" not in e:
        return []
    real, augmented, synthetic = (e[f"utility_{k}"] for k in ("real", "augmented", "synthetic"))
    helps = "help" if augmented > real else "do not help"
    return [
        "## What the generated images are worth",
        "",
        "Accuracy on the real test split of the feature classifier's architecture trained on "
        "a small real subset, on the same plus generated images, and on generated images only "
        f"(the Classification Accuracy Score): {real:.3f}, {augmented:.3f}, {synthetic:.3f}. "
        f"Added to little real data, this generator's images {helps} a classifier.",
        "",
    ]


def _limits(e: Mapping[str, Any], meta: Mapping[str, Any]) -> list[str]:
    space = e["protocol"].get("feature_space", "classifier")
    if space == "inception":
        where = (
            "- These scores are in the FID Inception network's features (the papers' network, "
            "fed as StyleGAN3 feeds it): they compare with published FIDs computed at the same "
            f"sample counts on the same data, and exactly with scores under protocol "
            f"`{e['protocol']['key']}`."
        )
    else:
        where = (
            f"- These scores are in the {space} feature space (this project's own classifier "
            "trained on this data), not Inception's: they compare only with scores under the "
            f"same protocol (`{e['protocol']['key']}`) and not with published FIDs."
        )
    return [
        "## Intended use and limits",
        "",
        f"- Makes {meta.get('title') or meta.get('dataset')}-like images for experiments, "
        "demos and data augmentation; check `eval/utility_*` before training on them.",
        where,
        "- It reproduces the training data's content and biases; it is no source of new facts.",
        "",
    ]


def _how_to_use(card: CardInputs) -> list[str]:
    uri = f"models:/{card.model_name}/{card.version}"
    label = ', "label": ["' + next(iter(card.evaluation["per_class"])) + '"]' if card.evaluation.get(
        "per_class"
    ) else ""  # fmt: skip
    files = "".join(f"\n- `{a}`" for a in card.artifacts)
    return [
        "## Load and serve",
        "",
        "```python",
        "import mlflow",
        "import pandas as pd",
        "",
        f'model = mlflow.pyfunc.load_model("{uri}")',
        f'images = model.predict(pd.DataFrame({{"num_images": [16], "seed": [0]{label}}}))',
        "# float32 (16, H, W, C) in [-1, 1]; the same seed gives the same images",
        "```",
        "",
        "```bash",
        f'mlflow models serve -m "{uri}" --env-manager local --port 5001',
        "curl -s 127.0.0.1:5001/invocations -H 'Content-Type: application/json' \\",
        """  -d '{"dataframe_records": [{"num_images": 2, "seed": 0}], "params": {"format": "png"}}'""",
        "```",
        "",
        "Requests, answers (arrays, or PNG files with class names) and errors: the project's "
        "docs/serving.md.",
        "",
        *(["In the training run's artifacts:" + files, ""] if files else []),
    ]


def _versus(record: Mapping[str, Any]) -> str:
    if not record:
        return "not compared"
    verdict = "better" if record["better"] else "worse" if record["worse"] else "within noise"
    if not record.get("samples"):
        return f"{record['difference']:+.3f} ({verdict})"
    return f"{record['difference']:+.3f} [{record['low']:+.3f}, {record['high']:+.3f}] ({verdict})"


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4f}" if abs(value) < 0.1 else f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
