"""pipeline/sweeps (the record, the Hydra callback, the Optuna driver) and run names: the parts
of a sweep that need no training. Sweeps end to end: tests/e2e/test_tune.py."""

from __future__ import annotations

import math
from types import SimpleNamespace

import optuna
import pytest
from omegaconf import OmegaConf

from pipeline.cli import check_overrides
from pipeline.config import flatten, validate
from pipeline.errors import PipelineError, Pruned
from pipeline.sweeps.hydra_callback import swept_keys
from pipeline.sweeps.optuna_search import PruningObserver, SearchHolder, suggest
from pipeline.sweeps.record import best_row, comparison_rows, write_table
from pipeline.tracking.names import run_name
from tests.helpers.configs import compose_config, options


def fake_run(run_id, fid, status="FINISHED", protocol="p1", lr="0.1"):
    return SimpleNamespace(
        info=SimpleNamespace(run_id=run_id, run_name=f"run {run_id}", status=status),
        data=SimpleNamespace(
            metrics={} if fid is None else {"eval/fid": fid, "eval/recall": 0.5},
            params={"training.generator_lr": lr},
            tags={"protocol.key": protocol},
        ),
    )


def test_rows_come_best_first_and_unscored_runs_last():
    runs = [fake_run("a", 3.0), fake_run("b", None, "FAILED"), fake_run("c", 1.0)]
    rows = comparison_rows(runs, ["training.generator_lr"], "fid")
    assert [r["run_id"] for r in rows] == ["c", "a", "b"]
    assert rows[0]["training.generator_lr"] == "0.1" and rows[0]["recall"] == 0.5
    assert math.isnan(rows[2]["fid"])


def test_the_best_run_is_the_lowest_score_under_the_protocol_most_runs_share():
    """A lower FID under another protocol (say, fewer generated images) does not compare."""
    runs = [fake_run("a", 3.0), fake_run("b", 2.0), fake_run("c", 0.5, protocol="p2"),
            fake_run("d", 0.1, status="KILLED")]  # fmt: skip
    rows = comparison_rows(runs, [], "fid")
    assert best_row(rows, "fid")["run_id"] == "b"
    assert best_row(comparison_rows([fake_run("x", None)], [], "fid"), "fid") is None


def test_the_comparison_table_is_csv_and_markdown(tmp_path):
    rows = comparison_rows(
        [fake_run("a", 3.0), fake_run("b|c", None)], ["training.generator_lr"], "fid"
    )
    write_table(rows, tmp_path / "t.csv", tmp_path / "t.md", "fid")
    md = (tmp_path / "t.md").read_text().splitlines()
    assert md[0].startswith("| run_name | run_id | status | training.generator_lr | fid |")
    assert "| 3 |" in md[2] and "b\\|c" in md[3]  # a pipe in a cell is escaped
    assert (tmp_path / "t.csv").read_text().splitlines()[0].startswith("run_name,run_id,")


def test_swept_keys_are_those_with_several_values():
    assert swept_keys(["experiment=smoke", "training.generator_lr=1e-4,2e-4",
                       "model=choice(mlp,dcgan)"]) == ["training.generator_lr", "model"]  # fmt: skip


def test_run_names_say_model_dataset_and_the_overrides_that_differ():
    cfg = compose_config(["experiment=smoke", "training.generator_lr=1e-4"])
    name = run_name(cfg, ["experiment=smoke", "training.generator_lr=1e-4", "paths.models=/x",
                          "tracking.uri=sqlite:///y"])  # fmt: skip
    assert name == "mlp fashion_mnist experiment=smoke training.generator_lr=1e-4"


def test_a_run_is_named_after_the_architecture_and_the_preset_chosen():
    """Presets are named after what they build: the run names the architecture (model.name),
    and the preset chosen is among the overrides, without looking the preset up."""
    cfg = compose_config(["model=dcgan_small"])
    assert run_name(cfg, ["model=dcgan_small"]) == "dcgan fashion_mnist model=dcgan_small"


def test_every_model_preset_is_named_after_the_architecture_it_builds():
    """strided_dcgan, strided_dcgan_tutorial, dcgan, dcgan_small, ...: the option's name starts
    with the architecture's (model.name), and the size or source follows."""
    for option in options("model"):
        built = compose_config([f"model={option}"]).model.name
        assert option == built or option.startswith(f"{built}_"), (option, built)


def test_a_run_from_params_yaml_is_named_after_what_differs_from_conf(monkeypatch):
    """DVC runs stages from params.yaml, without Hydra: the name lists the values that differ
    from conf/'s defaults, and the DVC experiment."""
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    cfg = OmegaConf.create(OmegaConf.to_container(compose_config([]), resolve=True))
    assert run_name(cfg) == "strided_dcgan fashion_mnist"
    cfg.training.generator_lr = 1e-4
    monkeypatch.setenv("DVC_EXP_NAME", "lucid-lynx")
    assert (
        run_name(cfg)
        == "strided_dcgan fashion_mnist training.generator_lr=0.0001 [dvc exp lucid-lynx]"
    )
    smoke = OmegaConf.create(
        OmegaConf.to_container(compose_config(["experiment=smoke"]), resolve=True)
    )
    assert run_name(smoke).startswith("mlp fashion_mnist dataset.limit=512 ")
    assert run_name(smoke).endswith("more) [dvc exp lucid-lynx]")


@pytest.mark.parametrize("preset", options("hparams_search"))
def test_every_search_preset_is_valid_and_names_real_keys(preset):
    cfg = compose_config([f"hparams_search={preset}"], config_name="tune")
    search = validate(cfg, SearchHolder).hparams_search
    keys = set(flatten(cfg))
    for key, space in search.params.items():
        assert key in keys, f"{preset}: {key} is not a key of the config"
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
        value = suggest(trial, key, space)
        current = OmegaConf.select(cfg, key)
        assert type(value) is type(current) or isinstance(current, float), (key, value)
    assert search.n_trials >= 4 and cfg.monitor.probe_every_steps > 0, "pruning needs the probe"
    check_overrides([f"hparams_search={preset}"], "tune")


def test_search_spaces_draw_numbers_lists_and_refuse_nonsense():
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    assert 1e-5 <= suggest(trial, "lr", {"low": 1e-5, "high": 1e-3, "log": True}) <= 1e-3
    assert suggest(trial, "width", {"choices": [[64, 32], [128, 64]]}) in ([64, 32], [128, 64])
    assert isinstance(suggest(trial, "steps", {"low": 1, "high": 4}), int)
    with pytest.raises(PipelineError, match="not a search space"):
        suggest(trial, "x", {"between": [1, 2]})


def test_the_pruning_observer_stops_a_trial_the_pruner_gives_up_on():
    """A real study and median pruner: after two finished trials with probe FIDs of 1, a
    third at 5 is pruned at its first report past the warm-up."""
    study = optuna.create_study(
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    )
    for _ in range(2):
        trial = study.ask()
        PruningObserver(trial, enabled=True).on_metrics({"probe_fid": 1.0}, step=2)
        study.tell(trial, 1.0)
    observer = PruningObserver(study.ask(), enabled=True)
    observer.on_metrics({"d_loss": 9.0}, step=2)  # not the probe: nothing reported
    with pytest.raises(Pruned) as pruned:
        observer.on_metrics({"probe_fid": 5.0}, step=2)
    assert pruned.value.step == 2 and pruned.value.score == 5.0
    PruningObserver(study.ask(), enabled=False).on_metrics({"probe_fid": 5.0}, step=2)


def test_tunes_overrides_are_checked_like_the_stages(capsys):
    with pytest.raises(SystemExit) as stopped:
        check_overrides(["hparams_search=no_such_search"], "tune")
    assert stopped.value.code == 2 and "no_such_search" in capsys.readouterr().err


def test_a_run_on_a_folder_is_named_without_the_machines_path():
    """A run on your own images: the folder by its name, the dataset once."""
    cfg = compose_config(["dataset=image_folder", "dataset.raw_dir=/home/me/data/raw/pictures"])
    name = run_name(cfg, ["dataset=image_folder", "dataset.raw_dir=/home/me/data/raw/pictures",
                          "dataset.name=image_folder", "training.epochs=2"])  # fmt: skip
    assert name == "strided_dcgan image_folder dataset.raw_dir=.../pictures training.epochs=2"
