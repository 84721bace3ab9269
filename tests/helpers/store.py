"""What a stage run left in its MLflow store (sqlite:///<workdir>/mlflow.db, as output_overrides
sets it), and a stand-in for an earlier run's generator file."""

from __future__ import annotations

from pathlib import Path

import mlflow

# Written where a generator goes before a run that must leave it as it is.
OLD_GENERATOR = b"the generator of an earlier run"


def runs(workdir: Path) -> list:
    """Every run of every experiment in the workdir's store."""
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    return mlflow.search_runs(search_all_experiments=True, output_format="list")
