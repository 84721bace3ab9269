"""MLflow: what the evaluate stage records in the run that trained the generator."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import mlflow

from pipeline.config import TrackingConfig
from pipeline.evaluation.catalog import mlflow_key
from pipeline.evaluation.metric import FLOOR
from pipeline.tracking.runs import EVALUATION_DIR, configure


def log_evaluation(
    tracking: TrackingConfig,
    run_id: str | None,
    result: Mapping[str, Any],
    files: Iterable[Path],
) -> None:
    """Scores into the run that trained the generator (a run of its own if that is unknown),
    so that the MLflow UI compares training runs by FID; the protocol (feature space, sample
    counts, its key and name) as the run's tags ``protocol.*``."""
    configure(tracking)
    with mlflow.start_run(run_id=run_id, tags=None if run_id else {"stage": "evaluate"}):
        flat = {mlflow_key(k): v for k, v in result.items() if isinstance(v, int | float)}
        flat.update({mlflow_key(k, FLOOR): v for k, v in result["floor"].items()})
        mlflow.log_metrics(flat)
        mlflow.set_tags({f"protocol.{k}": str(v) for k, v in result["protocol"].items()})
        mlflow.log_dict(dict(result), f"{EVALUATION_DIR}/eval.json")
        for path in files:
            mlflow.log_artifact(str(path), EVALUATION_DIR)
