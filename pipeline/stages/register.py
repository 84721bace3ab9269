"""Stage `register`: put the evaluated generator in the MLflow Model Registry; `champion` moves
only when it beats the champion under the same protocol beyond noise (pipeline.model_registry)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlflow.tracking import MlflowClient

from pipeline import artifacts, model_card
from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import RegistryConfig, StageConfig, TrackingConfig, section
from pipeline.data.prepared import load_prepared
from pipeline.io import atomic_path, read_json, write_json
from pipeline.model_registry import (
    Decision,
    Promotion,
    publish_card,
    register_generator,
    registered_name,
)
from pipeline.tracking import runs as tracking


@dataclass
class RegisterConfig(StageConfig):
    registry: RegistryConfig = section(RegistryConfig)
    tracking: TrackingConfig = section(TrackingConfig)


def register(cfg: RegisterConfig) -> str:
    out = Artifacts.from_paths(cfg.paths)
    run_id = read_json(artifacts.require(out.train_run, "train"))["run_id"]
    evaluation = read_json(artifacts.require(out.metric(artifacts.EVAL_METRICS), "evaluate"))
    evaluation.update(
        read_json(artifacts.require(out.metric(artifacts.EVAL_PER_CLASS), "evaluate"))
    )
    artifacts.check_scores_fit(evaluation, out)
    model_name = registered_name(
        cfg.registry.model_name,
        evaluation.get("data_title"),
        str(out.metric(artifacts.EVAL_METRICS)),
    )
    uri = tracking.configure(cfg.tracking)
    # One register at a time: two at once could each find no version of a run and register
    # it twice, or each see the old champion and the worse one's alias land last.
    with tracking.store_lock(uri, "registry"):
        r = cfg.registry
        decision = register_generator(
            MlflowClient(), model_name, run_id, out.generator, evaluation, r.max_images,
            Promotion(r.promotion, r.bootstrap_samples, r.confidence),
        )  # fmt: skip
    card = model_card.render(card_inputs(MlflowClient(), out, run_id, evaluation, decision))
    publish_card(MlflowClient(), decision.model_name, decision.version, run_id, card)
    with atomic_path(out.metric(artifacts.MODEL_CARD)) as tmp:
        tmp.write_text(card)
    write_json(
        out.metric(artifacts.REGISTER_METRICS),
        decision.record(float(evaluation["fid"]), cfg.registry.promotion),
    )
    print(f"{decision.model_name} v{decision.version} is {decision.alias}: {decision.reason}")
    return decision.alias


def card_inputs(
    client: MlflowClient,
    out: Artifacts,
    run_id: str,
    evaluation: dict[str, Any],
    decision: Decision,
) -> model_card.CardInputs:
    """What the model card is written from: the stages' outputs, the training run's record and
    the decision."""
    run = client.get_run(run_id).data.tags
    meta = dict(load_prepared(out.prepared).meta)
    prepare_report = out.metric(artifacts.PREPARE_METRICS)
    if prepare_report.is_file():  # images per class of the training split
        meta["class_counts"] = read_json(prepare_report).get("per_class", {}).get("train", {})
    generator = artifacts.load_keras_model(out.generator, "train")
    pictures = client.list_artifacts(run_id, tracking.EVALUATION_DIR)  # what evaluate logged
    logged = sorted(a.path for a in pictures if a.path.endswith((".png", ".gif")))
    return model_card.CardInputs(
        model_name=decision.model_name,
        version=decision.version,
        evaluation=evaluation,
        training=read_json(artifacts.require(out.metric(artifacts.TRAIN_METRICS), "train")),
        data_meta=meta,
        run={**run, "run_id": run_id},
        generator_parameters=int(generator.count_params()),
        decision=decision.alias,
        reason=decision.reason,
        comparison=decision.comparison,
        artifacts=[*logged, "samples/ (sheets during training)", artifacts.MODEL_CARD],
    )


SCHEMA = RegisterConfig
main = entrypoint(register, SCHEMA)

if __name__ == "__main__":
    main()
