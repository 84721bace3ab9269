"""The MLflow Model Registry policy: which generator version is `champion`.

A new version gets the alias `champion` only when it beats the current champion under the same
evaluation protocol beyond noise (`registry.promotion=significant`): the bootstrap interval of
the FID difference lies below 0 and KID's is not above 0, computed on the feature sets both
evaluations logged (`pipeline.evaluation.compare`), and neither its memorisation nor any class's
FID is worse beyond noise; with `promotion=any`, on any lower FID.
Otherwise it gets `challenger`. The decision and its reason go to the version's tags and to the
training run's tags. Registering the same training run again reuses its version instead of
registering a duplicate.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec
from mlflow.types.schema import AnyType

from pipeline.artifacts import EVAL_FEATURES, MODEL_CARD
from pipeline.errors import PipelineError
from pipeline.evaluation.catalog import FID, mlflow_key
from pipeline.evaluation.compare import compare, compare_classes, compare_memorisation
from pipeline.logs import REGISTRATION_CHATTER, drop_lines
from pipeline.tracking.runs import EVALUATION_DIR, pip_requirements

# Register's own output says what happened: not MLflow's "Validating input example" line, nor
# a progress bar for each small file it downloads (the features compared).
logging.getLogger("mlflow.pyfunc").setLevel(logging.WARNING)
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

CHAMPION, CHALLENGER = "champion", "challenger"
SERVING_CODE = Path(__file__).resolve().parent / "serving" / "generator_model.py"


FEATURES = f"{EVALUATION_DIR}/{EVAL_FEATURES}"  # what evaluate logs to the training run


@dataclass(frozen=True)
class Promotion:
    """`registry.promotion`, `bootstrap_samples`, `confidence` (their defaults: conf/registry)."""

    rule: str  # "significant" or "any"
    samples: int
    confidence: float


@dataclass(frozen=True)
class Decision:
    model_name: str
    version: str
    alias: str  # CHAMPION or CHALLENGER
    reason: str
    # metric -> the challenger-vs-champion difference and its interval, when one was computed
    comparison: dict[str, Any] = field(default_factory=dict)
    champion_version: str | None = None  # the champion when the decision was made, if any

    def record(self, fid: float, promotion: str) -> dict[str, Any]:
        """metrics/register.json."""
        return {
            "model_name": self.model_name,
            "version": int(self.version),
            "fid": fid,
            "decision": self.alias,
            "reason": self.reason,
            "promotion": promotion,
            "champion_version": int(self.champion_version) if self.champion_version else None,
            # challenger - champion of each score compared, with its bootstrap interval
            "comparison": self.comparison,
        }


def registered_name(chosen: str | None, data_title: str | None, where: str) -> str:
    """``registry.model_name`` when set, else "<title>-generator" for the data the generator was
    evaluated on (``where`` says where the title was looked for)."""
    if chosen:
        return chosen
    if not data_title:
        raise PipelineError(
            f"{where} does not name the data, so the registered model cannot be named after it",
            "run prepare and evaluate again (dvc repro), or set registry.model_name",
        )
    return f"{data_title}-generator"


def register_generator(
    client: MlflowClient,
    name: str,
    run_id: str,
    generator_file: Path,
    evaluation: Mapping[str, Any],
    max_images: int,
    promotion: Promotion,
) -> Decision:
    """Register the generator trained by ``run_id`` (once), decide its alias and record why."""
    fid, protocol = float(evaluation["fid"]), dict(evaluation["protocol"])
    version = version_of_run(client, name, run_id) or log_and_register(
        client, name, run_id, generator_file, evaluation, max_images
    )
    try:  # the champion compared with, read before the decision may move the alias
        champion: ModelVersion | None = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        champion = None
    alias, reason, comparison = decide(
        client, champion, version.version, run_id, fid, protocol, promotion,
        list(evaluation.get("class_names") or []),
    )  # fmt: skip
    previous = str(champion.version) if champion is not None else None
    client.set_registered_model_alias(name, alias, version.version)
    for key, value in (("decision", alias), ("reason", reason)):
        client.set_model_version_tag(name, version.version, key, value)
        client.set_tag(run_id, f"registry.{key}", value)
    client.set_tag(run_id, "registry.version", version.version)
    return Decision(name, str(version.version), alias, reason, comparison, previous)


def version_of_run(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The version already registered for ``run_id``, or None. A search that fails is an error:
    taking it for "none yet" would register a duplicate."""
    try:
        found = client.search_model_versions(f"name = '{name}' and tags.train_run_id = '{run_id}'")
    except Exception as e:  # MlflowException, SQLAlchemy's and connection errors alike
        raise PipelineError(
            f"cannot search the model registry for run {run_id}'s version of {name!r}: "
            f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}",
            "check that the tracking store is reachable (tracking.uri) and run register again",
        ) from e
    return found[0] if found else None


def log_and_register(
    client: MlflowClient,
    name: str,
    run_id: str,
    generator_file: Path,
    evaluation: Mapping[str, Any],
    max_images: int,
) -> ModelVersion:
    """Log the generator as a pyfunc model (code travels with it) and register a version."""
    from pipeline.artifacts import load_keras_model

    shape = load_keras_model(generator_file, "train").output_shape[1:]
    signature = ModelSignature(
        # AnyType: MLflow's own conversion to "long" truncates 1.5 to 1 and wraps 1e30 around
        # when a request arrives as JSON; the model checks the values itself (integers in
        # range, each refusal a 400 that names the value).
        inputs=Schema(
            [
                ColSpec(AnyType(), "num_images"),
                ColSpec(AnyType(), "seed"),
                ColSpec(AnyType(), "label", required=False),
                ColSpec(AnyType(), "truncation", required=False),
            ]
        ),
        # The default answer, params {"format": "array"}; "png" answers a table of base64 PNG
        # files with each image's request row and class name (pipeline.serving).
        outputs=Schema([TensorSpec(np.dtype("float32"), (-1, *shape))]),
        params=ParamSchema([ParamSpec("format", "string", "array")]),
    )
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="generator_pyfunc",
            python_model=str(SERVING_CODE),
            artifacts={"generator": str(generator_file)},
            # The class names let a request ask for a class by name ("Sneaker") as well as by
            # number (eval.json names the classes of the data it scored).
            model_config={
                "max_images": int(max_images),
                "class_names": list(evaluation.get("class_names") or []),
            },
            signature=signature,
            # MLflow runs the model on it while logging: a broken model fails here, not in serving.
            input_example=pd.DataFrame({"num_images": [1], "seed": [0]}),
            pip_requirements=pip_requirements(),
        )
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, description="GAN generators: (num_images, seed) -> images"
        )
    # mlflow.register_model, not client.create_model_version: it also tags the logged model with
    # its version, which is what makes the UI's logged-model page say "registered" and link it.
    protocol = evaluation["protocol"]
    tags = {
        "train_run_id": run_id,
        "fid": str(evaluation["fid"]),
        "protocol_key": protocol["key"],
        "protocol": protocol.get("name", protocol["key"]),
        "feature_space": protocol.get("feature_space", "classifier"),
        "dataset": protocol["dataset"],
        # what was trained, as the training run recorded it (model presets are named after it)
        "architecture": client.get_run(run_id).data.tags.get("model", "unknown"),
    }
    # Its success lines are dropped (register prints the decision itself); anything else it
    # says (a warning, an error) is passed on.
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            version = mlflow.register_model(info.model_uri, name, tags=tags)
    finally:
        sys.stderr.write(drop_lines(captured.getvalue(), REGISTRATION_CHATTER))
    return client.get_model_version(name, version.version)


def publish_card(client: MlflowClient, name: str, version: str, run_id: str, card: str) -> None:
    """The model card as the version's description (the UI renders its markdown) and as the
    training run's model_card.md."""
    client.update_model_version(name, version, description=card)
    client.log_text(run_id, card, MODEL_CARD)


def decide(
    client: MlflowClient,
    champion: ModelVersion | None,  # the current champion, if any
    version: str,
    run_id: str,
    fid: float,
    protocol: Mapping[str, Any],  # eval.json's: the yardstick of this version's scores
    promotion: Promotion,
    class_names: list[str] | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """(alias, reason, comparison): champion only when the version beats the champion under
    the same protocol, beyond noise unless ``promotion.rule`` is "any". The champion's
    protocol and FID are its run's latest evaluation's (tags ``protocol.*``, metric
    ``eval/fid``), so that a champion evaluated again under this protocol compares."""
    if champion is None:
        return CHAMPION, "first evaluated version: no champion yet", {}
    if champion.version == version:
        return CHAMPION, "already the champion", {}
    their_key, their_name, champion_fid = champion_scores(client, champion)
    if their_key != protocol["key"]:
        ours = protocol.get("name", "")
        return (
            CHALLENGER,
            (
                f"scored under protocol {protocol['key']} ({ours}), champion v{champion.version} "
                f"under {their_key} ({their_name}): the scores are not comparable (another "
                "feature space, data or sample count), so the champion stays; to compare, "
                f"evaluate the champion under this protocol: {reevaluate_hint(champion.run_id)}"
            ),
            {},
        )
    if promotion.rule == "any":
        if fid < champion_fid:
            return (
                CHAMPION,
                f"FID {fid:.3f} beats champion v{champion.version}'s {champion_fid:.3f}",
                {},
            )
        return (
            CHALLENGER,
            (f"FID {fid:.3f} does not beat champion v{champion.version}'s {champion_fid:.3f}"),
            {},
        )
    ours = run_features(client, run_id)
    if ours is None:
        raise PipelineError(
            f"run {run_id} holds no {FEATURES}: register compares generators on the features "
            "their evaluation logged",
            "evaluate this generator again (dvc repro, or python -m pipeline.stages.evaluate)",
        )
    theirs = run_features(client, champion.run_id)
    if theirs is None:
        return (
            CHALLENGER,
            (
                f"champion v{champion.version}'s run holds no {FEATURES} (evaluated before "
                "evaluations logged them), so no interval can say whether FID "
                f"{fid:.3f} against {champion_fid:.3f} is beyond noise: evaluate the champion "
                "again, or set registry.promotion=any"
            ),
            {},
        )
    champion_said = f"champion v{champion.version}"
    kid_subset = int(protocol.get("kid_subset_size", 1000))  # protocols before it was recorded
    return significant(ours, theirs, champion_said, promotion, class_names or [], kid_subset)


def champion_scores(client: MlflowClient, champion: ModelVersion) -> tuple[str, str, float]:
    """(protocol key, protocol name, FID) of the champion's latest evaluation: its run's tags
    and metric when it logged them, else what its version was registered with."""
    run = client.get_run(champion.run_id).data
    key = run.tags.get("protocol.key") or champion.tags.get("protocol_key", "unknown")
    name = (
        run.tags.get("protocol.name")
        or champion.tags.get("protocol")
        or f"feature space {champion.tags.get('feature_space', 'classifier (before spaces were named)')}"
    )
    fid = run.metrics.get(mlflow_key(FID.key)) if run.tags.get("protocol.key") else None
    return key, name, float(fid if fid is not None else champion.tags["fid"])


def reevaluate_hint(run_id: str) -> str:
    """The commands that score a champion's generator under the current settings, into its own
    run (its features and protocol tags), so that register compares with it next time."""
    return (
        f"mlflow artifacts download -r {run_id} -a generator.keras -d champion && "
        f'echo \'{{"run_id": "{run_id}"}}\' > champion/train_run.json && '
        "python -m pipeline.stages.evaluate paths.models=champion paths.metrics=champion/metrics "
        "paths.plots=champion/plots (with this run's evaluation.* settings), then register again"
    )


def significant(
    ours: Mapping[str, np.ndarray],
    theirs: Mapping[str, np.ndarray],
    champion: str,
    promotion: Promotion,
    class_names: list[str],
    kid_subset_size: int = 1000,
) -> tuple[str, str, dict[str, Any]]:
    """The `significant` rule on two evaluations' logged features: champion when the FID
    interval is below 0 and KID's not above it, unless the memorisation ratio is worse beyond
    noise and below 1 (nearer the training data than unseen real images) or a class's FID is
    worse beyond noise; the reason names each."""
    samples, confidence = promotion.samples, promotion.confidence
    diffs = compare(ours["real"], ours["generated"], theirs["generated"], samples, confidence,
                    kid_subset_size=kid_subset_size)  # fmt: skip
    fid_d, kid_d = diffs["fid"], diffs["kid"]
    said = [fid_d.summary(), kid_d.summary()]
    comparison: dict[str, Any] = {metric: d.record() for metric, d in diffs.items()}
    vetoes, unchecked = [], []
    if "generated_nn" in ours and "generated_nn" in theirs:
        memo = compare_memorisation(ours["real_nn"], ours["generated_nn"],
                                    theirs["generated_nn"], samples, confidence)  # fmt: skip
        comparison["memorisation_ratio"] = memo.record()
        if memo.worse and memo.challenger < 1:
            vetoes.append(f"it copies its training data more: {memo.summary()}")
    else:
        unchecked.append("memorisation (an evaluation logged no nearest-neighbour distances)")
    if "class_generated" in ours and "class_generated" in theirs:
        classes = compare_classes(
            _by_class(ours, "class_real", class_names),
            _by_class(ours, "class_generated", class_names),
            _by_class(theirs, "class_generated", class_names),
            samples,
            confidence,
        )
        comparison["per_class_fid"] = {name: d.record() for name, d in classes.items()}
        vetoes += [f"class {d.summary()}" for d in classes.values() if d.worse]
        too_few = [name for name in class_names if name not in classes]
        if too_few:
            unchecked.append(f"the FID of {', '.join(too_few)} (too few images for a FID)")
    elif "class_generated" in ours or "class_generated" in theirs:
        unchecked.append("per-class FID (one of the two is not class-conditional, or its "
                         "evaluation logged no per-class features)")  # fmt: skip
    if unchecked:
        said.append(f"not compared: {'; '.join(unchecked)}: evaluate both again to compare")
    if fid_d.better and not kid_d.worse and not vetoes:
        return CHAMPION, f"beats {champion} beyond noise: {'; '.join(said)}", comparison
    if fid_d.better and not kid_d.worse:
        refused = "; ".join(vetoes)
        return (
            CHALLENGER,
            f"better FID than {champion} but refused: {refused}; {'; '.join(said)}",
            comparison,
        )
    return CHALLENGER, f"does not beat {champion} beyond noise: {'; '.join(said)}", comparison


def _by_class(features: Mapping[str, np.ndarray], key: str, names: list[str]) -> dict[str, Any]:
    labels = features[f"{key}_labels"]
    return {name: features[key][labels == k] for k, name in enumerate(names)}


def run_features(client: MlflowClient, run_id: str) -> dict[str, np.ndarray] | None:
    """The features ``run_id``'s evaluation logged ({"real", "generated"}), or None when it
    logged none. A store that cannot be read is an error, not "none"."""
    try:
        logged = {a.path for a in client.list_artifacts(run_id, EVALUATION_DIR)}
        if FEATURES not in logged:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, FEATURES, tmp)
            with np.load(path) as data:
                return {key: data[key] for key in data.files}
    except (MlflowException, OSError) as e:
        raise PipelineError(
            f"cannot read {FEATURES} of run {run_id}: {type(e).__name__}: "
            f"{(str(e).splitlines() or [''])[0][:200]}",
            "check that the tracking store and its artifacts are reachable (tracking.uri) and "
            "run register again",
        ) from e
