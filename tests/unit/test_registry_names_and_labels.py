"""What the registry calls a generator, and how a served generator takes a class: the parts
that need no store (the store's rules: tests/integration/test_model_registry.py)."""

from __future__ import annotations

import pytest


def test_the_registered_name_comes_from_the_evaluated_data_not_the_config():
    """An image folder evaluated while the config still says fashion_mnist is filed under the
    folder's name; a name of the user's own wins; scores that do not name their data stop."""
    from pipeline.errors import PipelineError
    from pipeline.model_registry import registered_name

    assert registered_name(None, "flowers", "eval.json") == "flowers-generator"
    assert registered_name("mine", "flowers", "eval.json") == "mine"
    with pytest.raises(PipelineError, match="eval.json does not name the data"):
        registered_name(None, None, "eval.json")


def test_the_served_model_takes_a_class_by_name_or_number_and_lists_the_classes():
    from mlflow.exceptions import MlflowException

    from pipeline.serving.generator_model import GeneratorModel

    model = GeneratorModel()
    model.num_classes, model.class_names = 3, ["Bag", "Coat", "Sneaker"]
    assert model._label("Sneaker") == 2 and model._label(1) == 1 and model._label("0") == 0
    with pytest.raises(MlflowException, match="'Boot' is not a class; the classes are: 0 'Bag'"):
        model._label("Boot")
    with pytest.raises(MlflowException, match="from 0 to 2"):
        model._label(3)


def test_a_dvc_experiment_is_named_by_its_base_commit(monkeypatch, tmp_path):
    """`dvc exp run` writes the experiment's params into the work tree, so HEAD looked
    "-dirty" on every experiment's card; the commit it is based on says what it is (the
    dvc_experiment tag names the experiment)."""
    import subprocess

    from pipeline.tracking.runs import git_commit

    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=tmp_path, check=True)
    (tmp_path / "params.yaml").write_text("seed: 2\n")  # what DVC writes for the experiment
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    assert git_commit(tmp_path).endswith("-dirty")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", head)
    assert git_commit(tmp_path) == head
