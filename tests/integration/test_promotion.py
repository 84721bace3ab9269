"""Promotion beyond noise with real runs of the stages (in this process: each stage's command is
tested elsewhere): two seeds of one smoke config differ by noise and the second is not
promoted; a generator trained far longer is clearly better and takes `champion`. Each decision
is in register.json with its interval."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from pipeline.stages.classifier import classifier
from pipeline.stages.evaluate import evaluate
from pipeline.stages.prepare import prepare
from pipeline.stages.register import register
from pipeline.stages.train import train
from tests.helpers.configs import compose_config, validate_all
from tests.helpers.files import SYSTEM_FASHION_MNIST

pytestmark = [
    pytest.mark.skipif(
        not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
    ),
]
# The default model for 300 steps, against the smoke MLP's 8
LONGER = ["model=strided_dcgan", "training.steps_per_epoch=150", "training.epochs=2"]


@pytest.fixture(scope="module")
def decisions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("promotion")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    shared = ["experiment=smoke", f"tracking.uri={uri}", f"paths.raw={tmp / 'raw'}",
              f"paths.prepared={tmp / 'prepared'}", f"paths.classifier={tmp / 'classifier'}",
              f"paths.cache={tmp / 'cache'}", "registry.bootstrap_samples=100",
              "evaluation.classifier.epochs=3"]  # features that tell the generators apart  # fmt: skip
    base = [*shared, f"paths.metrics={tmp / 'metrics'}", f"paths.models={tmp / 'models'}"]
    cfg = validate_all(compose_config(base))
    prepare(cfg)
    classifier(cfg)
    found = {}
    for name, overrides in (("seed1", ["seed=1"]), ("seed2", ["seed=2"]),
                            ("longer", ["seed=1", *LONGER])):  # fmt: skip
        own = [f"paths.{key}={tmp / name / key}"
               for key in ("models", "metrics", "plots", "checkpoints")]  # fmt: skip
        cfg = validate_all(compose_config([*shared, *own, *overrides]))
        train(cfg)
        evaluate(cfg)
        register(cfg)
        found[name] = json.loads((tmp / name / "metrics" / "register.json").read_text())
    return found, uri


def test_two_seeds_of_one_config_are_within_noise(decisions):
    found, _ = decisions
    assert found["seed1"]["decision"] == "champion"
    second = found["seed2"]
    assert second["decision"] == "challenger", second["reason"]
    fid = second["comparison"]["fid"]
    assert fid["low"] < 0 < fid["high"], second["reason"]
    assert "within noise" in second["reason"]


def test_a_clearly_better_generator_is_promoted(decisions):
    found, uri = decisions
    longer = found["longer"]
    assert longer["decision"] == "champion", longer["reason"]
    assert longer["comparison"]["fid"]["better"] and longer["comparison"]["fid"]["high"] < 0
    assert "beyond noise" in longer["reason"]
    client = MlflowClient(uri)
    champion = client.get_model_version_by_alias(longer["model_name"], "champion")
    assert str(champion.version) == str(longer["version"])
