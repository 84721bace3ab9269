"""The Model Registry on a real SQLite store: champion rules, idempotent reruns, the pyfunc model
loaded by name, and register's errors."""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from pipeline.data.specs import FASHION_MNIST
from pipeline.errors import PipelineError
from pipeline.model_registry import version_of_run
from pipeline.stages.register import register
from tests.helpers.configs import ROOT, compose_config
from tests.helpers.processes import run_module
from tests.helpers.registry import MODEL_NAME, champion_version, trained


def test_champion_rules(tmp_path, store, smoke_cfg, generator_file):
    client = MlflowClient(store)

    first, first_run = trained(tmp_path, smoke_cfg, generator_file, 30.0, "P1", "first")
    assert register(first) == "champion"
    assert champion_version(client) == "1"

    worse, _ = trained(tmp_path, smoke_cfg, generator_file, 40.0, "P1", "worse")
    assert register(worse) == "challenger"
    assert champion_version(client) == "1"
    assert str(client.get_model_version_by_alias(MODEL_NAME, "challenger").version) == "2"
    decision = json.loads((tmp_path / "worse" / "metrics" / "register.json").read_text())
    assert decision["reason"].startswith("does not beat champion v1 beyond noise: FID ")
    assert decision["comparison"]["fid"]["worse"] and "(worse)" in decision["reason"]

    better, better_run = trained(tmp_path, smoke_cfg, generator_file, 20.0, "P1", "better")
    assert register(better) == "champion"
    assert champion_version(client) == "3"
    assert client.get_run(better_run).data.tags["registry.decision"] == "champion"

    other, _ = trained(tmp_path, smoke_cfg, generator_file, 1.0, "P2", "other-protocol")
    assert register(other) == "challenger", "a different protocol is never compared"
    assert champion_version(client) == "3"
    assert "not comparable" in client.get_model_version(MODEL_NAME, "4").tags["reason"]

    # Rerunning on the same training runs registers nothing new.
    assert register(other) == "challenger" and register(better) == "champion"
    versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    assert client.get_model_version(MODEL_NAME, "1").tags["train_run_id"] == first_run
    # Artifacts live beside the SQLite file, not in ./mlruns of whatever directory ran it.
    assert (tmp_path / "mlartifacts" / "gan-pipeline").is_dir()


@pytest.mark.faults
def test_a_difference_within_noise_promotes_nothing_unless_any_is_asked(
    tmp_path, store, smoke_cfg, generator_file
):
    """Two evaluations of one generator's quality (the same distribution, other seeds) differ
    by noise: the lower FID does not take `champion` under the default rule, and does under
    registry.promotion=any; register.json records the difference and its interval."""
    client = MlflowClient(store)
    first, _ = trained(tmp_path, smoke_cfg, generator_file, 30.0, "P1", "seed-1", seed=11)
    assert register(first) == "champion"
    second, _ = trained(tmp_path, smoke_cfg, generator_file, 29.0, "P1", "seed-2", seed=12)
    assert register(second) == "challenger" and champion_version(client) == "1"
    decision = json.loads((tmp_path / "seed-2" / "metrics" / "register.json").read_text())
    fid = decision["comparison"]["fid"]
    assert fid["low"] < 0 < fid["high"] and not fid["better"] and not fid["worse"]
    assert fid["samples"] == 50 and fid["confidence"] == 0.95
    assert "within noise" in decision["reason"] and decision["promotion"] == "significant"

    third, _ = trained(tmp_path, smoke_cfg, generator_file, 29.0, "P1", "seed-3", seed=13)
    third.registry.promotion = "any"
    assert register(third) == "champion" and champion_version(client) == "3"
    decision = json.loads((tmp_path / "seed-3" / "metrics" / "register.json").read_text())
    assert decision["reason"] == "FID 29.000 beats champion v1's 30.000"
    assert decision["comparison"] == {}


def test_a_better_fid_is_refused_when_it_copies_more_or_a_class_is_worse(
    tmp_path, store, smoke_cfg, generator_file
):
    """A clearly lower FID is not enough: a challenger that sits nearer the training data than
    unseen real images do (memorisation ratio 0.7 against 1.0), or whose Sandal images are much
    worse, stays challenger, and the reason names the memorisation and the class; a challenger
    without those faults is promoted, with every comparison in register.json."""
    client = MlflowClient(store)
    first, _ = trained(tmp_path, smoke_cfg, generator_file, 30.0, "P1", "first")
    assert register(first) == "champion"
    copier, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "copier",
                        memorisation=0.7)  # fmt: skip
    assert register(copier) == "challenger" and champion_version(client) == "1"
    decision = json.loads((tmp_path / "copier" / "metrics" / "register.json").read_text())
    assert decision["comparison"]["fid"]["better"]
    assert decision["comparison"]["memorisation_ratio"]["worse"]
    assert decision["reason"].startswith("better FID than champion v1 but refused: it copies")
    assert "it copies its training data more: memorisation ratio 0.7" in decision["reason"]

    sandal = FASHION_MNIST.class_names.index("Sandal")
    weak, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "weak-sandals",
                      weak_class=sandal)  # fmt: skip
    assert register(weak) == "challenger" and champion_version(client) == "1"
    decision = json.loads((tmp_path / "weak-sandals" / "metrics" / "register.json").read_text())
    per_class = decision["comparison"]["per_class_fid"]
    assert per_class["Sandal"]["worse"] and not any(
        d["worse"] for name, d in per_class.items() if name != "Sandal"
    )
    assert "refused: class Sandal FID" in decision["reason"]

    good, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "good")
    assert register(good) == "champion" and champion_version(client) == "4"
    decision = json.loads((tmp_path / "good" / "metrics" / "register.json").read_text())
    assert set(decision["comparison"]) == {"fid", "kid", "memorisation_ratio", "per_class_fid"}
    assert decision["reason"].startswith("beats champion v1 beyond noise")


def test_a_champion_without_logged_features_is_not_compared_blindly(
    tmp_path, store, smoke_cfg, generator_file
):
    """A champion evaluated before evaluations logged their features: no interval can be
    computed, so the challenger stays challenger and the reason says what to do."""
    client = MlflowClient(store)
    old, old_run = trained(tmp_path, smoke_cfg, generator_file, 30.0, "P1", "old")
    assert register(old) == "champion"
    shutil.rmtree(tmp_path / "mlartifacts" / "gan-pipeline" / old_run / "artifacts" / "evaluation")
    new, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "new")
    assert register(new) == "challenger"
    reason = client.get_model_version(MODEL_NAME, "2").tags["reason"]
    assert "holds no evaluation/features.npz" in reason and "registry.promotion=any" in reason


@pytest.mark.faults
def test_champion_loads_by_name_and_validates_input(tmp_path, store, smoke_cfg, generator_file):
    cfg, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "only")
    register(cfg)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")

    images = model.predict(pd.DataFrame({"num_images": [3], "seed": [5]}))
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1
    again = model.predict(pd.DataFrame({"num_images": [3], "seed": [5]}))
    other = model.predict(pd.DataFrame({"num_images": [3], "seed": [6]}))
    np.testing.assert_array_equal(images, again)
    assert not np.allclose(images, other)

    for bad, message in (
        ({"num_images": [0], "seed": [1]}, "num_images must be an integer from 1 to 64"),
        ({"num_images": [65], "seed": [1]}, r"from 1 to 64 \(got 65\)"),
        ({"num_images": [40, 40], "seed": [1, 2]}, r"at most 64 images .* 80 in all"),
        ({"num_images": [2], "seed": [-1]}, r"seed must be an integer from 0 to \d+ \(got -1\)"),
        ({"num_images": [2], "seed": [1.5]}, r"seed must be an integer .* \(got 1.5\)"),
        ({"num_images": [1.9], "seed": [1]}, r"num_images must be .* \(got 1.9\)"),
        ({"num_images": [2], "seed": [1e30]}, r"\(got 1e\+30\)"),
        ({"num_images": ["many"], "seed": [1]}, "num_images must be an integer"),
        ({"num_images": [2], "seed": [1], "label": [3]}, "unconditional"),
    ):
        with pytest.raises(MlflowException, match=message):
            model.predict(pd.DataFrame(bad))
    # JSON null for the label: no label (issue 9, #10), as when the column is left out.
    nulls = model.predict(pd.DataFrame({"num_images": [3], "seed": [5], "label": [None]}))
    np.testing.assert_array_equal(nulls, images)


def test_conditional_champion_takes_a_label(tmp_path, store, smoke_cfg, conditional_generator_file):
    cfg, _ = trained(tmp_path, smoke_cfg, conditional_generator_file, 10.0, "P1", "cond")
    register(cfg)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    cycled = model.predict(pd.DataFrame({"num_images": [10], "seed": [5]}))
    sevens = model.predict(pd.DataFrame({"num_images": [10], "seed": [5], "label": [7]}))
    assert cycled.shape == sevens.shape == (10, 28, 28, 1)
    # By name, as generate.label=Sneaker sends it: the class names travel with the model.
    sneakers = model.predict(pd.DataFrame({"num_images": [10], "seed": [5], "label": ["Sneaker"]}))
    np.testing.assert_array_equal(sneakers, sevens)
    # Same noise: image 7 of the cycled request is class 7's, the others are not.
    np.testing.assert_allclose(cycled[7], sevens[7], atol=1e-6)
    assert not np.allclose(cycled[0], sevens[0])
    for label in (10, -1):
        with pytest.raises(
            MlflowException, match="label must be a class number or name from 0 to 9"
        ):
            model.predict(pd.DataFrame({"num_images": [2], "seed": [1], "label": [label]}))
    with pytest.raises(MlflowException, match=r"label must be a class number .* \(got 2.5\)"):
        model.predict(pd.DataFrame({"num_images": [2], "seed": [1], "label": [2.5]}))


def test_exploring_a_conditional_champion(tmp_path, store, smoke_cfg, conditional_generator_file,
                                         monkeypatch):  # fmt: skip
    """truncation scales the noise towards its mean in the served model and in generate;
    generate.mode=classes writes a labelled sheet, mode=interpolate a grid of walks (a row a
    class) and a GIF that plays them; a truncation out of (0, 1] is a 400."""
    import keras
    from PIL import Image

    from pipeline.stages.generate import generate

    cfg, _ = trained(tmp_path, smoke_cfg, conditional_generator_file, 10.0, "P1", "explore")
    register(cfg)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    half = model.predict(pd.DataFrame({"num_images": [4], "seed": [3], "label": [2],
                                       "truncation": [0.5]}))  # fmt: skip
    generator = keras.saving.load_model(conditional_generator_file, compile=False)
    z = 0.5 * np.random.default_rng(3).standard_normal((4, 8))
    expected = generator([z.astype("float32"), np.full(4, 2, "int32")], training=False)
    np.testing.assert_allclose(half, np.asarray(expected), atol=1e-6)
    for bad in (0, 1.5, "x"):
        with pytest.raises(MlflowException, match=r"truncation must be a number in \(0, 1\]"):
            model.predict(pd.DataFrame({"num_images": [1], "seed": [0], "truncation": [bad]}))

    monkeypatch.chdir(tmp_path)
    cfg.generate.mode, cfg.generate.num_images = "classes", 3
    sheet = Image.open(generate(cfg))
    assert sheet.height > 10 * 64  # ten rows of tiles scaled up from 28 pixels
    cfg.generate.mode, cfg.generate.walks, cfg.generate.walk_steps = "interpolate", 2, 5
    cfg.generate.truncation = 0.8
    grid = generate(cfg)
    assert grid == Path("generated/interpolation.png") and grid.is_file()
    gif = Image.open(grid.with_suffix(".gif"))
    assert gif.n_frames == 8  # five steps there, three back (the ends once)


@pytest.mark.faults
def test_register_before_evaluate_is_a_clear_error(tmp_path, store, smoke_cfg):
    cfg = copy.deepcopy(smoke_cfg)
    cfg.paths.models, cfg.paths.metrics = str(tmp_path / "m"), str(tmp_path / "x")
    params = tmp_path / "params.yaml"
    OmegaConf.save(cfg, params)
    result = run_module("pipeline.stages.register", "--params", str(params), cwd=ROOT)
    assert result.returncode == 2 and "run the train stage first" in result.stderr


@pytest.mark.faults
def test_scores_of_another_generator_are_refused(tmp_path, store, smoke_cfg, generator_file,
                                                 conditional_generator_file):  # fmt: skip
    """A stale eval.json beside a newly trained generator (issue 9, #4): nothing registered."""
    cfg, _ = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "stale")
    (tmp_path / "stale" / "models" / "generator.keras").write_bytes(
        conditional_generator_file.read_bytes()
    )
    params = tmp_path / "params.yaml"
    OmegaConf.save(cfg, params)
    result = run_module("pipeline.stages.register", "--params", str(params), cwd=ROOT)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "scored another generator" in result.stderr and "fix: evaluate" in result.stderr
    assert not MlflowClient(store).search_registered_models()


@pytest.mark.faults
def test_a_non_finite_fid_is_refused(tmp_path, store, smoke_cfg, generator_file):
    cfg, _ = trained(tmp_path, smoke_cfg, generator_file, float("nan"), "P1", "diverged")
    with pytest.raises(PipelineError, match="FID is nan"):
        register(cfg)
    assert not MlflowClient(store).search_registered_models()


@pytest.mark.faults
def test_a_failed_registry_search_is_an_error_not_no_version(tmp_path, store, smoke_cfg,
                                                             generator_file):  # fmt: skip
    """Taking a failed search for "not registered yet" registered duplicates (issue 9)."""
    import sqlite3

    cfg, run_id = trained(tmp_path, smoke_cfg, generator_file, 10.0, "P1", "once")
    register(cfg)
    client = MlflowClient(store)
    assert version_of_run(client, MODEL_NAME, run_id) is not None
    with sqlite3.connect(tmp_path / "mlflow.db") as db:  # the store breaks under the client
        db.execute("ALTER TABLE model_versions RENAME TO model_versions_gone")
    with pytest.raises(PipelineError, match="cannot search the model registry .*no such table"):
        version_of_run(client, MODEL_NAME, run_id)


@pytest.mark.faults
@pytest.mark.distributed
def test_racing_register_calls_agree_on_one_champion(tmp_path, store, smoke_cfg, generator_file):
    """Issue 9, #6: four `register` commands at once, two for each of two runs: one version per
    run, never two, and the champion is the run with the better FID, whichever finished last.
    (The worse one is `challenger` only if it came after the better one: a champion that is
    beaten keeps no alias.)"""
    from tests.helpers.processes import start_command, wait_all

    worse, worse_run = trained(tmp_path, smoke_cfg, generator_file, 30.0, "P1", "worse")
    better, better_run = trained(tmp_path, smoke_cfg, generator_file, 20.0, "P1", "better")

    def command(cfg) -> list[str]:
        overrides = [
            f"paths.{key}={getattr(cfg.paths, key)}" for key in ("models", "metrics", "prepared")
        ]
        overrides += [f"tracking.uri={store}", f"registry.model_name={MODEL_NAME}"]
        return [sys.executable, "-m", "pipeline.stages.register", *overrides,
                f"hydra.run.dir={tmp_path / 'hydra'}"]  # fmt: skip

    wait_all([start_command(command(cfg)) for cfg in (worse, better, worse, better)])
    client = MlflowClient(store)
    versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    runs = sorted(v.tags["train_run_id"] for v in versions)
    assert runs == sorted([worse_run, better_run]), f"{len(versions)} versions"
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert champion.tags["train_run_id"] == better_run


@pytest.mark.faults
def test_generate_from_a_registry_name_that_does_not_exist(tmp_path, store, smoke_cfg, capsys):
    """Issue 9, #4: a clear error naming the model URI, exit status 2, nothing written."""
    from pipeline.cli import run_guarded
    from pipeline.stages.generate import SCHEMA, generate

    cfg = compose_config(["experiment=smoke", f"tracking.uri={store}",
                          "registry.model_name=no-such-generator",
                          f"generate.output={tmp_path / 'out.png'}"])  # fmt: skip
    with pytest.raises(SystemExit) as stopped:
        run_guarded(generate, cfg, SCHEMA)
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert "error: cannot load the model models:/no-such-generator@champion" in err
    assert "fix: run `dvc repro` so that register names a champion" in err
    assert not (tmp_path / "out.png").exists()


def test_every_version_carries_its_model_card(tmp_path, store, smoke_cfg,
                                              conditional_generator_file):  # fmt: skip
    """The version's description is the model card (what it is, the data, each score beside
    its floor and which way is better, the comparison, per-class FID with the weakest classes
    named, memorisation, limits, how to load it); the same text is the run's model_card.md and
    metrics/model_card.md; the one logged model links to its version."""
    client = MlflowClient(store)
    first, _ = trained(tmp_path, smoke_cfg, conditional_generator_file, 30.0, "P1", "first")
    register(first)
    second, run_id = trained(tmp_path, smoke_cfg, conditional_generator_file, 10.0, "P1", "2nd")
    assert register(second) == "champion"
    card = client.get_model_version(MODEL_NAME, "2").description
    assert card.startswith(f"# {MODEL_NAME} v2: champion\n\n**Decision: champion.** beats champion")
    for expected in (
        "| generator parameters | ",
        "| checksum | `" + "c" * 64 + "` |",
        "| FID (classifier) | 10.000 | 0.130 | lower is better | ",
        "| recall (classifier) | 0.400 | 0.400 | higher is better | not compared |",
        "Weakest classes by FID: Ankle boot (FID 14.00, label accuracy 90.0%), Bag (FID 13.00",
        "| Sandal | 10.000 | 0.900 | ",
        "Memorisation ratio 1.050",
        "not Inception's",
        f'mlflow.pyfunc.load_model("models:/{MODEL_NAME}/2")',
        '"label": ["T-shirt/top"]',
    ):
        assert expected in card, expected
    interval = json.loads((tmp_path / "2nd" / "metrics" / "register.json").read_text())
    low, high = interval["comparison"]["fid"]["low"], interval["comparison"]["fid"]["high"]
    assert f"[{low:+.3f}, {high:+.3f}] (better)" in card
    assert (tmp_path / "2nd" / "metrics" / "model_card.md").read_text() == card
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/model_card.md") == card
    # One logged model per generator, and it knows its version
    version = client.get_model_version(MODEL_NAME, "2")
    models = client.search_logged_models(
        experiment_ids=[client.get_run(run_id).info.experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
    )
    assert [f"models:/{m.model_id}" for m in models] == [version.source]
    assert json.loads(models[0].tags["mlflow.modelVersions"]) == [
        {"name": MODEL_NAME, "version": 2}
    ]
