"""A sweep as one MLflow parent run: every job (a Hydra multirun job, an Optuna trial) is a
child run, and when the sweep ends the parent names the best child (tag ``best_run_id``) and
carries a comparison table (CSV and markdown) and a plot of the objective against each swept
parameter.

The Hydra callback (`hydra_callback.py`) opens the parent before the first job and closes it
after the last; jobs find the parent's id in ``$PIPELINE_SWEEP_RUN_ID``, which the launcher's
worker processes inherit. The Optuna driver (`optuna_search.py`) uses ``SweepRecord`` directly.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import TrackingConfig
from pipeline.evaluation.catalog import HEADLINE, mlflow_key

PARENT_ENV = "PIPELINE_SWEEP_RUN_ID"
TABLE_COLUMNS = HEADLINE  # the scores a sweep's comparison table shows


def parent_run_id() -> str | None:
    """The running sweep's parent run, for a job of that sweep; None outside a sweep."""
    return os.environ.get(PARENT_ENV) or None


@dataclass
class SweepRecord:
    run_id: str
    experiment_id: str
    swept: list[str]  # the config keys the sweep varies: the table's and the plot's columns
    objective: str  # a score of eval.json, lower is better

    @classmethod
    def start(
        cls,
        tracking: TrackingConfig,
        name: str,
        params: Mapping[str, Any],
        swept: Sequence[str],
        objective: str,
        kind: str,
    ) -> SweepRecord:
        import mlflow

        from pipeline.tracking import runs as track
        from pipeline.tracking.runs import git_commit

        track.configure(tracking)
        experiment = mlflow.get_experiment_by_name(tracking.experiment_name)
        assert experiment is not None  # configure() made it
        client = mlflow.MlflowClient()
        tags = {"sweep": kind, "sweep.swept": ",".join(swept), "git_commit": git_commit()}
        run = client.create_run(experiment.experiment_id, run_name=name, tags=tags)
        command = " ".join(["python", "-m", *_command()])
        for key, value in {"sweep.command": command, **params}.items():
            client.log_param(run.info.run_id, key, str(value)[:6000])
        print(f"sweep: MLflow parent run {run.info.run_id} ({name})")
        return cls(run.info.run_id, experiment.experiment_id, list(swept), objective)

    def finish(self, status: str = "FINISHED") -> dict[str, Any] | None:
        """Table, plot and best child onto the parent run, which ends with ``status``; returns
        the best row (None when no child has a score)."""
        import mlflow

        client = mlflow.MlflowClient()
        children = client.search_runs(
            [self.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{self.run_id}'"
        )
        rows = comparison_rows(children, self.swept, self.objective)
        best = best_row(rows, self.objective)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "sweep"
            folder.mkdir()
            write_table(rows, folder / "comparison.csv", folder / "comparison.md", self.objective)
            if rows:
                save_objective_plot(rows, self.swept, self.objective, best, folder / "fid.png")
            client.log_artifacts(self.run_id, str(folder), "sweep")
        client.log_metric(self.run_id, "sweep/jobs", len(rows))
        client.log_metric(self.run_id, "sweep/failed", sum(r["status"] != "FINISHED" for r in rows))
        if best is not None:
            client.set_tag(self.run_id, "best_run_id", best["run_id"])
            client.set_tag(self.run_id, "best_run_name", best["run_name"])
            client.set_tag(self.run_id, "best_protocol", best["protocol"])
            client.log_metric(self.run_id, f"sweep/best_{self.objective}", best[self.objective])
            print(
                f"sweep: best of {len(rows)} jobs is {best['run_name']} ({best['run_id']}), "
                f"{self.objective} {best[self.objective]:.3f}; table and plot in the artifacts "
                f"of parent run {self.run_id}"
            )
        else:
            print(f"sweep: no job of parent run {self.run_id} has a {self.objective}")
        client.set_terminated(self.run_id, status)
        return best


def _command() -> list[str]:
    module = sys.modules["__main__"].__spec__
    return [module.name if module else sys.argv[0], *sys.argv[1:]]


def comparison_rows(
    runs: Sequence[Any], swept: Sequence[str], objective: str
) -> list[dict[str, Any]]:
    """One row per child run: its swept values, scores, protocol and status, best first."""
    rows = []
    for run in runs:
        metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
        row: dict[str, Any] = {
            "run_name": run.info.run_name,
            "run_id": run.info.run_id,
            "status": run.info.status,
            **{key: params.get(key, "") for key in swept},
            **{name: metrics.get(mlflow_key(name), math.nan) for name in TABLE_COLUMNS},
            "feature_space": tags.get("protocol.feature_space", ""),
            "protocol": tags.get("protocol.key", ""),
            "pruned_at_step": tags.get("pruned_at_step", ""),
        }
        row[objective] = metrics.get(mlflow_key(objective), math.nan)
        rows.append(row)
    rows.sort(key=lambda r: (math.isnan(r[objective]), r[objective]))
    return rows


def best_row(rows: Sequence[dict[str, Any]], objective: str) -> dict[str, Any] | None:
    """The lowest ``objective`` among finished runs under the evaluation protocol that most of
    them share: scores under different protocols do not compare."""
    scored = [r for r in rows if r["status"] == "FINISHED" and math.isfinite(r[objective])]
    if not scored:
        return None
    protocol = Counter(r["protocol"] for r in scored).most_common(1)[0][0]
    return min((r for r in scored if r["protocol"] == protocol), key=lambda r: r[objective])


def write_table(
    rows: Sequence[dict[str, Any]], csv_path: Path, md_path: Path, objective: str
) -> None:
    columns = list(rows[0]) if rows else ["run_name", "run_id", "status", objective]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    md_path.write_text("\n".join(lines) + "\n")


def save_objective_plot(
    rows: Sequence[dict[str, Any]],
    swept: Sequence[str],
    objective: str,
    best: dict[str, Any] | None,
    path: Path,
) -> None:
    """The objective against each swept parameter (numbers on a log axis when they span a
    decade or more; anything else as categories); the best run is marked."""
    from pipeline.viz import save_figure, subplots

    keys = list(swept) or ["run_name"]
    fig, axes = subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    scored = [r for r in rows if math.isfinite(r[objective])]
    for ax, key in zip(axes[0], keys, strict=True):
        values = [r[key] for r in scored]
        numbers = _as_numbers(values)
        if numbers is not None:
            xs: list[Any] = numbers
            positive = [x for x in numbers if x > 0]
            if positive and len(positive) == len(numbers) and max(numbers) >= 10 * min(numbers):
                ax.set_xscale("log")
        else:
            xs = [str(v) for v in values]
        ax.scatter(xs, [r[objective] for r in scored], color="tab:blue")
        if best is not None and best in scored:
            i = scored.index(best)
            ax.scatter([xs[i]], [best[objective]], color="tab:red", marker="*", s=160,
                       label="best", zorder=3)  # fmt: skip
            ax.legend(loc="best")
        ax.set_xlabel(key)
        ax.set_ylabel(f"{objective} (lower is better)")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{objective} of {len(scored)} runs")
    fig.tight_layout()
    save_figure(fig, path)


def _as_numbers(values: Sequence[Any]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None
