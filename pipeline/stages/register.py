"""Stage `register`: put the evaluated generator in the MLflow Model Registry; `champion` moves
only when it beats the champion under the same protocol beyond noise (pipeline.model_registry)."""

from __future__ import annotations

import math

from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import RegistryConfig, Section, TrackingConfig
from pipeline.errors import PipelineError
from pipeline.io import read_json, sha256_file, write_json
from pipeline.model_registry import Promotion, register_generator, registered_name
from pipeline.tracking import runs as tracking

SECTIONS: dict[str, Section] = {"registry": RegistryConfig, "tracking": TrackingConfig}


def register(cfg: DictConfig) -> str:
    out = Artifacts.from_paths(cfg.paths)
    run_id = read_json(artifacts.require(out.train_run, "train"))["run_id"]
    evaluation = read_json(artifacts.require(out.metric(artifacts.EVAL_METRICS), "evaluate"))
    check_scores_fit(evaluation, out)
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
    write_json(
        out.metric(artifacts.REGISTER_METRICS),
        {
            "model_name": decision.model_name,
            "version": int(decision.version),
            "fid": float(evaluation["fid"]),
            "decision": decision.alias,
            "reason": decision.reason,
            "promotion": cfg.registry.promotion,
            # challenger - champion for FID and KID, with the bootstrap interval (significant)
            "comparison": decision.comparison,
        },
    )
    print(f"{decision.model_name} v{decision.version} is {decision.alias}: {decision.reason}")
    return decision.alias


def check_scores_fit(evaluation: dict, out: Artifacts) -> None:
    """Refuse to register a generator under scores that are not its own, or are not numbers."""
    scored = evaluation.get("generator_sha256")
    actual = sha256_file(artifacts.require(out.generator, "train"))
    if scored != actual:
        raise PipelineError(
            f"{out.metric(artifacts.EVAL_METRICS)} scored another generator "
            f"({str(scored)[:12] if scored else 'not named'}) than {out.generator} "
            f"({actual[:12]}); registering would pair the model with scores not its own",
            "evaluate this generator first (dvc repro, or python -m pipeline.stages.evaluate)",
        )
    fid = float(evaluation["fid"])
    if not math.isfinite(fid):
        raise PipelineError(
            f"the generator's FID is {fid}: it produces no usable images",
            "train again (lower the learning rates); nothing was registered",
        )


main = entrypoint(register, SECTIONS)

if __name__ == "__main__":
    main()
