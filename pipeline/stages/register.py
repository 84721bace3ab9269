"""Stage `register`: put the evaluated generator in the MLflow Model Registry; `champion` moves
only when its FID beats the champion's under the same protocol (pipeline.model_registry)."""

from __future__ import annotations

from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from pipeline import artifacts, tracking
from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import RegistryConfig, Section, TrackingConfig
from pipeline.io import read_json, write_json
from pipeline.model_registry import register_generator

SECTIONS: dict[str, Section] = {"registry": RegistryConfig, "tracking": TrackingConfig}


def register(cfg: DictConfig) -> str:
    out = Artifacts.from_paths(cfg.paths)
    run_id = read_json(artifacts.require(out.train_run, "train"))["run_id"]
    evaluation = read_json(artifacts.require(out.metric(artifacts.EVAL_METRICS), "evaluate"))
    tracking.configure(cfg.tracking)
    decision = register_generator(
        MlflowClient(),
        cfg.registry.model_name,
        run_id,
        out.generator,
        evaluation,
        cfg.registry.max_images,
    )
    write_json(
        out.metric(artifacts.REGISTER_METRICS),
        {
            "model_name": decision.model_name,
            "version": int(decision.version),
            "fid": float(evaluation["fid"]),
            "decision": decision.alias,
            "reason": decision.reason,
        },
    )
    print(f"{decision.model_name} v{decision.version} is {decision.alias}: {decision.reason}")
    return decision.alias


main = entrypoint(register, SECTIONS)

if __name__ == "__main__":
    main()
