"""The MLflow Model Registry policy: which generator version is `champion`.

A new version gets the alias `champion` only when its FID beats the current champion's under
the same evaluation protocol; otherwise it gets `challenger`. The decision and its reason go to
the version's tags and to the training run's tags. Registering the same training run again
reuses its version instead of registering a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema, TensorSpec
from mlflow.types.schema import AnyType

from pipeline.errors import PipelineError
from pipeline.tracking.runs import pip_requirements

CHAMPION, CHALLENGER = "champion", "challenger"
SERVING_CODE = Path(__file__).resolve().parent / "serving" / "generator_model.py"


@dataclass(frozen=True)
class Decision:
    model_name: str
    version: str
    alias: str  # CHAMPION or CHALLENGER
    reason: str


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
) -> Decision:
    """Register the generator trained by ``run_id`` (once), decide its alias and record why."""
    fid, protocol_key = float(evaluation["fid"]), str(evaluation["protocol"]["key"])
    version = version_of_run(client, name, run_id) or log_and_register(
        client, name, run_id, generator_file, evaluation, max_images
    )
    alias, reason = decide(client, name, version.version, fid, protocol_key)
    client.set_registered_model_alias(name, alias, version.version)
    for key, value in (("decision", alias), ("reason", reason)):
        client.set_model_version_tag(name, version.version, key, value)
        client.set_tag(run_id, f"registry.{key}", value)
    client.set_tag(run_id, "registry.version", version.version)
    return Decision(name, str(version.version), alias, reason)


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
            ]
        ),
        outputs=Schema([TensorSpec(np.dtype("float32"), (-1, *shape))]),
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
    return client.create_model_version(
        name,
        source=info.model_uri,
        run_id=run_id,
        # A tracking server checks that a models:/ source names its logged model (SQLite
        # does not): without it, registering over HTTP fails.
        model_id=info.model_id,
        tags={
            "train_run_id": run_id,
            "fid": str(evaluation["fid"]),
            "protocol_key": evaluation["protocol"]["key"],
            "dataset": evaluation["protocol"]["dataset"],
        },
        description=f"FID {evaluation['fid']:.3f} under protocol {evaluation['protocol']['key']}",
    )


def decide(
    client: MlflowClient, name: str, version: str, fid: float, protocol_key: str
) -> tuple[str, str]:
    """(alias, reason): champion only when FID beats the champion's under the same protocol."""
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return CHAMPION, "first evaluated version: no champion yet"
    if champion.version == version:
        return CHAMPION, "already the champion"
    if champion.tags.get("protocol_key") != protocol_key:
        return CHALLENGER, (
            f"evaluated under protocol {protocol_key}, champion v{champion.version} under "
            f"{champion.tags.get('protocol_key')}: scores are not comparable; re-evaluate the "
            "champion under this protocol to compare"
        )
    champion_fid = float(champion.tags["fid"])
    if fid < champion_fid:
        return CHAMPION, f"FID {fid:.3f} beats champion v{champion.version}'s {champion_fid:.3f}"
    return (
        CHALLENGER,
        f"FID {fid:.3f} does not beat champion v{champion.version}'s {champion_fid:.3f}",
    )
