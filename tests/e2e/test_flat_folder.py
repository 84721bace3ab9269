"""A folder of pictures without class sub-folders (the commonest GAN data), end to end with the
default command, `dvc exp run -S dataset=image_folder -S dataset.raw_dir=DIR`, in a temporary
git repository: no one-class classifier is trained (the stage says why), training goes
unconditional by itself, evaluation scores in the FID Inception network (the choice stated),
per-class outputs are absent with a reason, and the model card and registry name the feature
space. A second run that differs only in `seed` is compared with the first (same protocol),
not declared "not comparable"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from tests.e2e.test_pipeline import make_dvc_repo
from tests.helpers.processes import run_command

# Sizes only (a few steps, a small protocol): every choice is the default's.
SMALL = [
    "training.steps_per_epoch=6", "training.batch_size=8", "compute.steps_per_execution=1",
    "monitor.log_every_steps=3", "monitor.sample_every_steps=3", "monitor.num_samples=9",
    "checkpoint.every_steps=6", "evaluation.num_generated=60",
    "evaluation.batch_size=30", "evaluation.kid_subsets=5", "evaluation.kid_subset_size=10",
    "evaluation.memorisation_samples=8",
    "registry.bootstrap_samples=20",  # 2,048 Inception dimensions: about 0.25 s a resample
]  # fmt: skip


def flat_folder(root: Path, count: int = 120) -> Path:
    """``count`` 100x80 crops of scikit-learn's two sample photos, all in one folder."""
    import sklearn

    images = Path(sklearn.__file__).parent / "datasets" / "images"
    photos = [Image.open(images / f"{name}.jpg") for name in ("china", "flower")]
    folder = root / "pictures"
    folder.mkdir()
    for i in range(count):
        left, top = 30 + 11 * (i % 20), 40 + 23 * (i // 20)
        photos[i % 2].crop((left, top, left + 100, top + 80)).save(folder / f"{i:03}.jpg")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flat")
    repo = make_dvc_repo(tmp)
    folder = flat_folder(tmp)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(repo)}
    base = ["-S", "dataset=image_folder", "-S", f"dataset.raw_dir={folder}"]
    base += [arg for setting in SMALL for arg in ("-S", setting)]
    records = []
    for seed in (42, 7):
        result = run_command(["dvc", "exp", "run", *base, "-S", f"seed={seed}"], cwd=repo, env=env)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        read = lambda name: json.loads((repo / "metrics" / name).read_text())  # noqa: E731
        records.append({
            "log": result.stdout + result.stderr,
            "classifier": read("classifier.json"), "eval": read("eval.json"),
            "per_class": read("eval_per_class.json"), "register": read("register.json"),
            "card": (repo / "metrics" / "model_card.md").read_text(),
        })  # fmt: skip
    return records, uri, repo, env, base


def test_a_flat_folder_runs_with_the_default_command(runs):
    records, uri, *_ = runs
    first = records[0]
    log = first["log"]
    # no one-class classifier: the stage says why
    assert "classifier: skipped: the data has 1 class" in log
    assert first["classifier"]["skipped"].startswith("the data has 1 class")
    # unconditional by itself, and said so
    assert "training.conditional=auto: unconditional (the data has 1 class)" in log
    # scored in Inception, the choice and its reason recorded
    e = first["eval"]
    assert e["protocol"]["feature_space"] == "inception"
    assert e["feature_space"]["feature_dim"] == 2048
    assert "1 class" in e["feature_space"]["chosen_because"]
    assert "feature space: inception (evaluation.features=auto" in log
    assert e["fid"] > 0 and e["kid_mean"] == e["kid_mean"]  # a number, not NaN
    assert "fid_caveat" in e  # 12 test images against 2,048 dimensions, said
    # per-class outputs absent, with the reason
    assert first["per_class"] == {} and "unconditional" in e["per_class_missing"]
    assert "classifier_score" not in e and "classes_covered" not in e
    # registered, and the card and the registry name the feature space
    assert first["register"]["decision"] == "champion"
    assert "In the **inception** feature space" in first["card"]
    assert (
        "FID (inception)" in first["card"]
        and "Not scored: the generator is unconditional" in (first["card"])
    )
    client = MlflowClient(uri)
    version = client.get_model_version("pictures-generator", "1")
    assert version.tags["feature_space"] == "inception"
    assert version.tags["architecture"] == "strided_dcgan"  # the preset is named after it
    assert "strided_dcgan" in first["card"]
    run = client.get_run(version.run_id).data
    assert run.tags["protocol.feature_space"] == "inception"
    assert run.params["training.conditional"] == "False"


def test_a_second_seed_is_compared_under_the_same_protocol(runs):
    records, *_ = runs
    first, second = records
    assert first["eval"]["protocol"]["key"] == second["eval"]["protocol"]["key"]
    decision = second["register"]
    assert "not comparable" not in decision["reason"]
    assert decision["comparison"]["fid"]["samples"] > 0  # a bootstrap interval was computed
    assert decision["champion_version"] == 1


def test_a_champion_of_another_protocol_is_refused_with_commands_that_work(runs, tmp_path):
    """Scored with other sample counts, a third run is not compared with the champion; the
    reason gives the commands that evaluate the champion under the new protocol, and after
    running them as given, register compares the two."""
    import re
    import shlex

    _, _, repo, env, base = runs
    other = [*base, "-S", "evaluation.num_generated=50"]
    result = run_command(["dvc", "exp", "run", *other], cwd=repo, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    decision = json.loads((repo / "metrics" / "register.json").read_text())
    assert decision["decision"] == "challenger" and "not comparable" in decision["reason"]
    assert "inception, 50 generated vs 12 test images" in decision["reason"]
    hint = re.search(
        r"evaluate the champion under this protocol: (.*) \(with this run", decision["reason"]
    )
    assert hint, decision["reason"]
    for command in hint.group(1).split(" && "):
        if command.startswith("echo "):  # the one shell redirection
            text, target = re.fullmatch(r"echo '(.*)' > (\S+)", command).groups()
            (repo / target).write_text(text)
            continue
        words = shlex.split(command)
        if words[0] == "python":  # this run's dataset and evaluation settings
            settings = [a for a in base if a.startswith(("dataset", "evaluation"))]
            words += [*(a for a in settings if "num_generated" not in a),
                      "evaluation.num_generated=50"]  # fmt: skip
        done = run_command(words, cwd=repo, env=env)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    again = run_command(["python", "-m", "pipeline.stages.register", "--params", "params.yaml"],
                        cwd=repo, env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    decision = json.loads((repo / "metrics" / "register.json").read_text())
    assert "not comparable" not in decision["reason"]
    assert decision["comparison"]["fid"]["samples"] > 0
