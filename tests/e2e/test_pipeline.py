"""End to end with real parts: the stages as commands, a real SQLite MLflow store, a Hydra
multirun, and `dvc repro` / `dvc exp run` inside a temporary git repository."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.configs import ROOT
from tests.helpers.files import SYSTEM_FASHION_MNIST
from tests.helpers.processes import run_command, run_module

pytestmark = [
    pytest.mark.skipif(
        not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
    ),
]

PROJECT_FILES = ["pipeline", "conf", "dvc.yaml", "pyproject.toml", ".dvc/config", ".dvcignore",
                 "data/raw/README.md"]  # fmt: skip


def runs_in(uri: str, experiment: str = "gan-pipeline") -> list:
    client = MlflowClient(uri)
    return client.search_runs([client.get_experiment_by_name(experiment).experiment_id])


def outputs_under(tmp_path: Path) -> list[str]:
    return [
        f"paths.{key}={tmp_path / key}"
        for key in ("prepared", "models", "metrics", "plots", "checkpoints", "classifier", "cache")
    ]


@pytest.fixture(scope="module")
def prepared_smoke(tmp_path_factory):
    """Real Fashion-MNIST, first 512 images of each split, prepared once for this module."""
    tmp = tmp_path_factory.mktemp("prepared")
    result = run_module(
        "pipeline.stages.prepare", "experiment=smoke", f"paths.prepared={tmp / 'prepared'}",
        f"paths.metrics={tmp / 'metrics'}",
        f"paths.raw={tmp / 'raw'}", f"hydra.run.dir={tmp / 'hydra'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return tmp / "prepared"


def test_train_stage_records_everything_in_mlflow(tmp_path, prepared_smoke):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        "pipeline.stages.train", "experiment=smoke", *outputs_under(tmp_path),
        f"paths.prepared={prepared_smoke}", f"tracking.uri={uri}", "tracking.run_name=e2e",
        f"hydra.run.dir={tmp_path / 'hydra'}",
    ]  # fmt: skip
    # The quality probe needs the classifier: without it, a clear error before any training.
    result = run_module(*args)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "run the classifier stage first" in result.stderr, result.stderr
    assert not (tmp_path / "models").exists()

    result = run_module(*args, "monitor.probe_every_steps=0")
    assert result.returncode == 0, result.stderr

    run_id = json.loads((tmp_path / "models" / "train_run.json").read_text())["run_id"]
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "e2e"
    assert run.data.params["training.steps_per_epoch"] == "4"
    assert run.data.params["model.name"] == "mlp"
    assert run.data.params["dataset.name"] == "fashion_mnist"
    assert (
        run.data.tags["dataset_checksum"]
        == json.loads((prepared_smoke / "meta.json").read_text())["checksum"]
    )
    assert len(run.data.tags["git_commit"]) >= 7
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "images_per_s"):
        history = client.get_metric_history(run_id, f"train/{key}")
        assert [m.step for m in history] == [2, 4, 6, 8], key
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.yaml", "samples", "training_curves.png", "images", "generator.keras",
            "train.json"} <= artifacts  # fmt: skip
    # the summary is the run's description, not one-point metric curves
    assert "**Training summary**" in run.data.tags["mlflow.note.content"]
    assert not [k for k in run.data.metrics if k.startswith("final/")]
    assert run.data.tags["hardware"].startswith("CPU, ")
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    history = {a.path for a in client.list_artifacts(run_id, "samples")}
    assert history == {f"samples/step_{s:06d}.png" for s in (0, 4, 8)}, "readable, once each"
    # The image chart gets the final sheet alone, so the UI opens on it (image + MLflow's preview)
    charted = [a.path for a in client.list_artifacts(run_id, "images")]
    assert charted and all(p.startswith("images/Samples~generated+step+8+") for p in charted), (
        charted
    )
    import keras

    generator = keras.saving.load_model(client.download_artifacts(run_id, "generator.keras"))
    assert generator.predict(np.zeros((2, 100), "float32"), verbose=0).shape == (2, 28, 28, 1)

    metrics = json.loads((tmp_path / "metrics" / "train.json").read_text())
    assert metrics["steps"] == 8 and metrics["images_per_s"] > 0
    csv_lines = (tmp_path / "plots" / "train_metrics.csv").read_text().splitlines()
    assert csv_lines[0] == "step,d_loss,g_loss,d_acc_real,d_acc_fake,images_per_s"
    assert len(csv_lines) == 5


def make_dvc_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in PROJECT_FILES:
        src, dst = ROOT / name, repo / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    from pipeline.params import compose_params

    compose_params(repo / "params.yaml", repo, ["experiment=smoke"])
    git = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "project"], cwd=repo, check=True)
    return repo


GIT = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A git repository of the project after `dvc repro` of the smoke settings, its dvc.lock
    committed: (repository, environment of its commands)."""
    tmp_path = tmp_path_factory.mktemp("dvc")
    repo = make_dvc_repo(tmp_path)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PYTHONPATH": str(repo)}
    # As a user runs it: not with the level this test process's `import pipeline` set.
    result = run_command(["dvc", "repro"], cwd=repo, env={**env, "TF_CPP_MIN_LOG_LEVEL": None})
    assert result.returncode == 0, result.stdout + result.stderr
    (tmp_path / "repro.log").write_text(result.stdout + result.stderr)
    assert (repo / "models" / "generator.keras").is_file()
    assert (repo / "dvc.lock").is_file()
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "lock"], cwd=repo, check=True)
    return repo, env


def test_a_repro_is_quiet_and_the_champion_loads_without_warnings(reproduced):
    """No TensorFlow C++ log line (cuInit's "UNKNOWN ERROR (303)", the remapper's "Mutation::
    Apply error", oneDNN notes) in a default `dvc repro`; MLflow's "Add type hints" warning
    not printed when the champion is loaded."""
    repo, env = reproduced
    log = (repo.parent / "repro.log").read_text()
    noisy = [line for line in log.splitlines() if line.startswith(("E0000", "W0000", "I0000"))]
    assert noisy == [], "\n".join(noisy[:5])
    assert "absl::InitializeLog" not in log
    code = (
        "import warnings, mlflow\n"
        "warnings.simplefilter('always')\n"
        "mlflow.pyfunc.load_model('models:/fashion_mnist-generator@champion')\n"
        "print('loaded')"
    )
    loaded = run_command([sys.executable, "-c", code], cwd=repo, env=env)
    assert loaded.returncode == 0 and "loaded" in loaded.stdout, loaded.stderr[-2000:]
    assert "Add type hints" not in loaded.stderr and "UserWarning" not in loaded.stderr


def test_dvc_repro_tracks_metrics_plots_and_the_champion(reproduced):
    repo, env = reproduced

    shown = run_command(["dvc", "metrics", "show", "--json"], cwd=repo, env=env)
    assert shown.returncode == 0, shown.stderr
    metrics = json.loads(shown.stdout)[""]["data"]
    assert metrics["metrics/train.json"]["data"]["steps"] == 8
    evaluation = metrics["metrics/eval.json"]["data"]
    assert evaluation["fid"] > evaluation["floor"]["fid"] >= 0
    assert evaluation["protocol"]["num_generated"] == 300
    assert 0 < metrics["metrics/classifier.json"]["data"]["test_accuracy"] <= 1
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    champion = client.get_model_version_by_alias("fashion_mnist-generator", "champion")
    assert champion.tags["decision"] == "champion"
    train_run = client.get_run(champion.run_id)
    assert train_run.data.metrics["eval/fid"] == pytest.approx(evaluation["fid"])
    # The package version that made it: on the run, in eval.json and on the card.
    from importlib.metadata import version

    assert train_run.data.tags["pipeline_version"] == version("gan-pipeline")
    assert evaluation["pipeline_version"] == version("gan-pipeline")
    card = (repo / "metrics" / "model_card.md").read_text()
    assert f"gan-pipeline {version('gan-pipeline')}" in card
    assert champion.tags["architecture"] == "mlp"  # experiment=smoke trains the dense GAN
    # The quality probe (classifier before train): a KID/FID curve beside the losses.
    probe = client.get_metric_history(champion.run_id, "probe/fid")
    assert [m.step for m in probe] == [8] and probe[0].value > 0
    quality = (repo / "plots" / "train_quality.csv").read_text().splitlines()
    assert quality[0] == "step,probe_fid,probe_kid" and quality[1].startswith("8,")
    assert metrics["metrics/train.json"]["data"]["probe_kid"] == pytest.approx(
        client.get_metric_history(champion.run_id, "probe/kid")[-1].value
    )
    assert train_run.data.metrics["floor/fid"] == pytest.approx(evaluation["floor"]["fid"])

    plots = run_command(["dvc", "plots", "show", "--json"], cwd=repo, env=env)
    assert plots.returncode == 0 and "GAN losses" in plots.stdout

    again = run_command(["dvc", "repro"], cwd=repo, env=env)
    assert "didn't change, skipping" in again.stdout

    # A code change marks exactly the stages that import the changed module.
    for module, stages in (
        ("pipeline/gan/losses.py", {"train"}),
        ("pipeline/data/readers.py", {"prepare"}),
        ("pipeline/evaluation/report.py", {"evaluate"}),
        # the quality probe's too, and register's comparison with the champion
        ("pipeline/evaluation/metrics.py", {"train", "evaluate", "register"}),
        ("pipeline/evaluation/compare.py", {"register"}),
        ("pipeline/config/schema.py", {"prepare", "train", "classifier", "evaluate", "register"}),
        ("pipeline/data/settings.py", {"prepare", "train", "classifier", "evaluate"}),
        ("data/raw/README.md", {"prepare"}),  # new or changed raw data: prepare again
    ):
        original = (repo / module).read_text()
        (repo / module).write_text(original + "\n# changed\n")
        status = run_command(["dvc", "status", "--json"], cwd=repo, env=env)
        (repo / module).write_text(original)
        assert set(json.loads(status.stdout)) == stages, (module, status.stdout)


@pytest.mark.distributed
def test_queued_experiments_run_two_at_a_time(reproduced):
    """Queued DVC experiments (issue 8, #4; issue 10, #5: `dvc queue start -j 2`): each runs in
    its own copy of the repository under .dvc/tmp/exps/, two at once, yet its MLflow run lands
    in the repository's own store (no tracking URI set: sqlite:///<repo>/mlflow.db), and `dvc
    exp show` lists its scores beside its params. `dvc exp run` composes params.yaml from conf/
    with the -S overrides. Both are the default's class-conditional GAN, through train,
    evaluate and register."""
    repo, env = reproduced
    queue_env = {**env, "MLFLOW_TRACKING_URI": ""}
    queued = run_command(
        ["dvc", "exp", "run", "--queue", "-S", "model=mlp,dcgan_small", "-S", "experiment=smoke",
         "-S", "training.epochs=1", "-S", "training.conditional=true"],
        cwd=repo, env=queue_env,
    )  # fmt: skip
    assert queued.returncode == 0 and queued.stdout.count("Queued experiment") == 2, queued.stderr
    started = run_command(["dvc", "queue", "start", "-j", "2"], cwd=repo, env=queue_env)
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 480
    while time.monotonic() < deadline:
        status = run_command(["dvc", "queue", "status"], cwd=repo, env=queue_env).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    failed = [line.split()[0] for line in status.splitlines() if line.endswith("Failed")]
    logs = [run_command(["dvc", "queue", "logs", task], cwd=repo, env=queue_env).stdout[-3000:]
            for task in failed]  # fmt: skip
    assert status.count("Success") == 2, status + "\n".join(logs)
    shown = run_command(["dvc", "exp", "show", "--json"], cwd=repo, env=queue_env)
    experiments = {
        rev["name"]: rev["data"]
        for commit in json.loads(shown.stdout)  # workspace, then the baseline commit
        for exp in commit.get("experiments") or []
        for rev in exp["revs"]
    }
    assert len(experiments) == 2, shown.stdout[:500]
    models = set()
    for data in experiments.values():
        models.add(data["params"]["params.yaml"]["data"]["model"]["name"])
        evaluation = data["metrics"]["metrics/eval.json"]["data"]
        assert evaluation["fid"] > 0 and 0 <= evaluation["label_accuracy"] <= 1
        assert data["metrics"]["metrics/train.json"]["data"]["steps"] == 4
    assert models == {"mlp", "dcgan"}
    store = f"sqlite:///{repo / 'mlflow.db'}"
    runs = runs_in(store)
    assert {r.data.tags.get("dvc_experiment") for r in runs} == set(experiments)
    assert all(r.data.metrics["eval/fid"] > 0 for r in runs)
    assert all(f"[dvc exp {r.data.tags['dvc_experiment']}]" in r.info.run_name for r in runs)
    # The commit each experiment is based on, never "-dirty" (DVC wrote its params into the
    # work tree), and the card names the experiment.
    head = subprocess.run([*GIT, "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    assert {r.data.tags["git_commit"] for r in runs} == {head.stdout.strip()}
    versions = MlflowClient(store).search_model_versions("name = 'fashion_mnist-generator'")
    assert len(versions) == 2, "each experiment's generator was registered"
    for version in versions:
        assert "-dirty" not in version.description and ", DVC experiment `" in version.description


@pytest.mark.distributed
def test_dvc_push_then_a_fresh_clone_pulls_everything_without_recomputing(reproduced, tmp_path):
    """A DVC remote (issue 10, #4): a local folder standing in for S3/GCS/Azure (the same
    commands with their URL). `dvc push`, then a fresh `git clone` + `dvc pull` restores the
    prepared data, the classifier and the generator, and `dvc repro` there runs nothing."""
    repo, env = reproduced
    remote = tmp_path / "remote"
    added = run_command(["dvc", "remote", "add", "-d", "storage", str(remote)], cwd=repo, env=env)
    assert added.returncode == 0, added.stderr
    pushed = run_command(["dvc", "push"], cwd=repo, env=env)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert any(remote.rglob("*")), "nothing reached the remote"
    subprocess.run([*GIT, "commit", "-qam", "remote"], cwd=repo, check=True)

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    assert not (clone / "models" / "generator.keras").exists()
    clone_env = {**env, "PYTHONPATH": str(clone)}
    pulled = run_command(["dvc", "pull"], cwd=clone, env=clone_env)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    for output in ("data/prepared", "classifier", "models/generator.keras"):
        assert (clone / output).exists(), output
    assert (clone / "models" / "generator.keras").read_bytes() == (
        repo / "models" / "generator.keras"
    ).read_bytes()
    status = run_command(["dvc", "status", "--json"], cwd=clone, env=clone_env)
    assert json.loads(status.stdout) == {}, status.stdout
    again = run_command(["dvc", "repro"], cwd=clone, env=clone_env)
    assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout
