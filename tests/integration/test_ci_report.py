"""scripts/ci_report.py, the retraining workflow's logic (issue 8, #6), against a real git
history of two commits with DVC metrics and params, and a real MLflow registry."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import mlflow
import pytest

from tests.helpers.configs import ROOT
from tests.helpers.processes import run_command

sys.path.insert(0, str(ROOT / "scripts"))
import ci_report

GIT = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]


def commit(repo, message):
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", message], cwd=repo, check=True)
    return ci_report.git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture
def history(tmp_path):
    """A DVC project with two commits: the champion's (FID 12) and a retrained one whose
    generator_lr changed and whose FID is 10."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".gitignore"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "metrics", repo / "metrics")
    (repo / "plots").mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    evaluation = json.loads((repo / "metrics" / "eval.json").read_text())
    evaluation["fid"] = 12.0
    (repo / "metrics" / "eval.json").write_text(json.dumps(evaluation))
    first = commit(repo, "champion")

    params = (repo / "params.yaml").read_text()
    assert "generator_lr: 0.0004" in params
    (repo / "params.yaml").write_text(
        params.replace("generator_lr: 0.0004", "generator_lr: 0.0001")
    )
    evaluation["fid"] = 10.0
    (repo / "metrics" / "eval.json").write_text(json.dumps(evaluation))
    (repo / "metrics" / "register.json").write_text(json.dumps({
        "decision": "champion", "model_name": "fashion_mnist-generator", "version": 2,
        "fid": 10.0, "reason": "FID 10.000 beats champion v1's 12.000",
    }))  # fmt: skip
    shutil.copy(ROOT / "plots" / "samples.png", repo / "plots" / "samples.png")
    commit(repo, "retrained")
    return repo, first


def test_the_report_shows_the_metric_and_param_diffs_and_the_decision(history, tmp_path):
    repo, first = history
    summary, comment = tmp_path / "summary.md", tmp_path / "comment.md"
    summary.write_text("earlier steps' summary\n")
    result = run_command(
        [sys.executable, str(ROOT / "scripts" / "ci_report.py"), "report", "--base", first,
         "--repo", str(repo), "--summary", str(summary), "--comment", str(comment)],
        env={"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "team/gan",
             "GITHUB_RUN_ID": "77"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = summary.read_text()
    assert text.startswith("earlier steps' summary\n" + ci_report.MARKER), "appended"
    assert comment.read_text() == text.removeprefix("earlier steps' summary\n")
    assert "**fashion_mnist-generator v2 is champion** (registered as the new champion): " in text
    assert "FID 10.000 beats champion v1's 12.000" in text
    # dvc's own markdown tables: the FID from 12 to 10, the learning rate from 2e-4 to 1e-4.
    fid_row = next(
        line
        for line in text.splitlines()
        if line.startswith("| metrics/eval.json") and "| fid " in line
    )
    assert "12" in fid_row and "10" in fid_row and "-2" in fid_row
    lr_row = next(line for line in text.splitlines() if "training.generator_lr" in line)
    assert "0.0004" in lr_row and "0.0001" in lr_row
    assert "https://github.com/team/gan/actions/runs/77" in text and "plots/samples.png" in text


def test_the_baseline_is_the_champions_training_commit(history, store):
    """Before training: the registry's champion names the commit to compare with; without one,
    the previous commit."""
    repo, first = history
    assert ci_report.baseline(repo, "fashion_mnist-generator") == (
        first, f"the previous commit {first[:10]} (no champion found)"
    )  # fmt: skip
    (repo / "extra.txt").write_text("a third commit\n")
    commit(repo, "third")
    mlflow.set_experiment("gan-pipeline")
    with mlflow.start_run(tags={"git_commit": first}) as run:
        pass
    client = mlflow.MlflowClient()
    client.create_registered_model("fashion_mnist-generator")
    version = client.create_model_version(
        "fashion_mnist-generator", f"runs:/{run.info.run_id}/x", run.info.run_id
    )
    client.set_registered_model_alias("fashion_mnist-generator", "champion", version.version)
    base, why = ci_report.baseline(repo, "fashion_mnist-generator")
    assert base == first and why.startswith("the current champion's training commit")


def test_the_report_shows_each_class_the_interval_and_both_generators_samples(history, store):
    """With a champion in the registry: the FID difference with its interval, a per-class
    table (Sandal flagged worse beyond noise) and plots/champion_vs_challenger.png, the
    champion's sheet from its run beside the new one."""
    import numpy as np
    from PIL import Image

    repo, _ = history
    mlflow.set_experiment("gan-pipeline")
    (repo / "champion").mkdir()
    Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(repo / "champion" / "eval_samples.png")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(repo / "champion" / "eval_samples.png"), "evaluation")
    client = mlflow.MlflowClient()
    client.create_registered_model("fashion_mnist-generator")
    client.create_model_version("fashion_mnist-generator", f"runs:/{run.info.run_id}/x",
                                run.info.run_id)  # fmt: skip
    Image.fromarray(np.full((50, 70, 3), 255, np.uint8)).save(repo / "plots" / "eval_samples.png")
    difference = lambda d, lo, hi, worse: {  # noqa: E731
        "challenger": 5 + d, "champion": 5.0, "difference": d, "low": lo, "high": hi,
        "confidence": 0.95, "samples": 50, "better": hi < 0, "worse": worse}  # fmt: skip
    decision = {
        "decision": "challenger", "model_name": "fashion_mnist-generator", "version": 2,
        "champion_version": 1, "fid": 4.0, "promotion": "significant",
        "reason": "better FID than champion v1 but refused: class Sandal FID ...",
        "comparison": {"fid": difference(-1.0, -1.4, -0.6, False), "per_class_fid": {
            "Sandal": difference(3.0, 2.1, 3.9, True), "Bag": difference(-0.5, -0.9, -0.1, False),
        }},
    }  # fmt: skip
    (repo / "metrics" / "register.json").write_text(json.dumps(decision))
    (repo / "metrics" / "eval_per_class.json").write_text(json.dumps({"per_class": {
        "Sandal": {"fid": 8.0, "accuracy": 0.9}, "Bag": {"fid": 4.5, "accuracy": 0.99},
        "Coat": {"fid": None, "accuracy": 0.7}}}))  # fmt: skip
    scores = json.loads((repo / "metrics" / "eval.json").read_text())
    scores["protocol"] = {"key": "abc123", "feature_space": "classifier",
                          "name": "classifier, 600 generated vs 600 test images"}  # fmt: skip
    (repo / "metrics" / "eval.json").write_text(json.dumps(scores))
    text = ci_report.report(repo, None, "nothing")
    assert (
        "Scores in the **classifier** feature space, protocol `abc123` (classifier, 600 "
        "generated vs 600 test images)." in text
    )
    assert "FID (classifier) 4.000 against the champion's 5.000: difference -1.000, 95% " in text
    assert (
        "| Sandal | 8.000 | 5.000 | +3.000 [+2.100, +3.900] | 0.900 | **worse beyond noise** |"
        in text
    )
    assert "| Bag | 4.500 | 5.000 | -0.500 [-0.900, -0.100] | 0.990 |  |" in text
    assert "| Coat | n/a | n/a | not compared | 0.700 |  |" in text
    side = Image.open(repo / "plots" / "champion_vs_challenger.png")
    assert side.size == (80 + 70 + 20, 30 + 60)
    assert "`plots/champion_vs_challenger.png`" in text


@pytest.mark.faults
@pytest.mark.parametrize(
    "overrides",
    ["x=1; rm -rf /", "training.epochs=$(id)", "paths.models=/tmp/elsewhere",
     "hydra.run.dir=/", "model=`id`", "training.epochs 2"],
)  # fmt: skip
def test_an_override_outside_the_pattern_is_refused_before_anything_runs(overrides, tmp_path):
    result = run_command(
        [
            sys.executable,
            str(ROOT / "scripts" / "ci_report.py"),
            "retrain",
            "--repo",
            str(tmp_path),
        ],
        env={"OVERRIDES": overrides},
    )
    assert result.returncode == 2 and result.stderr.startswith("error: override")
    assert "\n  fix: " in result.stderr and "Traceback" not in result.stderr


def test_good_overrides_become_an_argument_list():
    overrides = ci_report.parse_overrides(
        " training.epochs=2  model=dcgan_small regularizers=[r1,lecam] training.generator_lr=1e-4 "
    )
    assert ci_report.exp_run_command(overrides) == [
        "dvc", "exp", "run", "-S", "training.epochs=2", "-S", "model=dcgan_small",
        "-S", "regularizers=[r1,lecam]", "-S", "training.generator_lr=1e-4",
    ]  # fmt: skip
    assert ci_report.parse_overrides("") == []


def test_the_model_name_follows_the_data_of_the_committed_evaluation(tmp_path):
    """registry.model_name null: what register will name the model, from the committed eval.json
    (an image folder's title), else from the dataset."""
    import yaml

    params = {"registry": {"model_name": None}, "dataset": {"name": "fashion_mnist", "title": None}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert ci_report.model_name(tmp_path) == "fashion_mnist-generator"
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "eval.json").write_text(json.dumps({"data_title": "flowers"}))
    assert ci_report.model_name(tmp_path) == "flowers-generator"
    params["registry"]["model_name"] = "mine"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert ci_report.model_name(tmp_path) == "mine"
