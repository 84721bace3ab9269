"""The strategy settings' checks (issue 10, #1): what is refused before TensorFlow starts."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.config import ComputeConfig
from pipeline.errors import PipelineError
from pipeline.training import distribute

pytestmark = pytest.mark.distributed

MULTI = ComputeConfig(precision="float32", jit_compile=False, deterministic=True,
                      strategy="multi_worker", cpu_devices=1, intra_op_threads=0,
                      inter_op_threads=0, steps_per_execution=1)  # fmt: skip
CLUSTER = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


def test_multi_worker_without_tf_config_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(PipelineError) as e:
        distribute.strategy(MULTI)
    assert "needs $TF_CONFIG" in e.value.problem and '"cluster"' in e.value.fix


@pytest.mark.parametrize(
    "text, problem",
    [
        ("not json", "is not a cluster and a task"),
        (json.dumps({"cluster": CLUSTER}), "is not a cluster and a task"),
        (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}), "task worker 2"),
    ],
)
def test_a_tf_config_that_does_not_name_this_process_is_refused(monkeypatch, text, problem):
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(PipelineError, match=problem):
        distribute.strategy(MULTI)


@pytest.mark.parametrize(
    "cluster, task, chief",
    [
        (CLUSTER, {"type": "worker", "index": 0}, True),
        (CLUSTER, {"type": "worker", "index": 1}, False),
        ({"chief": ["h:1"], **CLUSTER}, {"type": "chief", "index": 0}, True),
        ({"chief": ["h:1"], **CLUSTER}, {"type": "worker", "index": 0}, False),
    ],
)
def test_only_the_chief_writes(monkeypatch, cluster, task, chief):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    assert distribute.is_chief(MULTI) is chief
    assert distribute.is_chief(dataclasses.replace(MULTI, strategy="mirrored")) is True


def test_the_global_batch_must_split_evenly_across_replicas():
    distribute.check_batch(64, 2)
    with pytest.raises(PipelineError, match="does not split across 3 replicas"):
        distribute.check_batch(64, 3)
