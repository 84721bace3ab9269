"""The real conf/ composes and validates; defaults live in conf/ only; errors name the key."""

from __future__ import annotations

import dataclasses
import re
import sys

import pytest
from omegaconf import OmegaConf

from pipeline import config
from pipeline.config import validate
from pipeline.errors import PipelineError
from pipeline.io import repo_root
from pipeline.tracking.runs import tracking_uri
from tests.helpers.configs import (
    STAGES,
    compose_config,
    options,
    stage_schema,
    stage_sections,
    validate_all,
)
from tests.helpers.processes import run_command, run_module


@pytest.mark.parametrize("dataset", options("dataset"))
@pytest.mark.parametrize("model", options("model"))
def test_every_dataset_and_model_composes(dataset, model):
    cfg = validate_all(compose_config([f"dataset={dataset}", f"model={model}"]))
    assert cfg.dataset.name == dataset


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_preset_validates(experiment):
    validate_all(compose_config([f"experiment={experiment}"]))


@pytest.mark.parametrize("loss", options("loss"))
def test_every_loss_validates(loss):
    assert validate_all(compose_config([f"loss={loss}"])).loss.name == loss


@pytest.mark.parametrize("regularizer", options("regularizers"))
def test_every_regularizer_validates(regularizer):
    cfg = validate_all(compose_config([f"regularizers=[{regularizer}]"]))
    assert list(cfg.regularizers) == [regularizer]


def test_all_regularizers_at_once():
    cfg = validate_all(compose_config([f"regularizers=[{','.join(options('regularizers'))}]"]))
    assert sorted(cfg.regularizers) == options("regularizers")


def test_default_is_hinge_with_lazy_r1_and_an_empty_list_turns_it_off():
    default = validate_all(compose_config())
    assert default.loss.name == "hinge"
    assert {n: config.settings_of(s) for n, s in default.regularizers.items()} == {
        "r1": {"gamma": 1.0, "every": 16}
    }
    assert validate_all(compose_config(["regularizers=[]"])).regularizers == {}
    # The tutorial presets and the smoke preset keep the tutorials' plain recipe.
    for preset in ("smoke", "mnist_mlp", "cifar10_dcgan"):
        cfg = validate_all(compose_config([f"experiment={preset}"]))
        assert (cfg.loss.name, cfg.regularizers) == ("non_saturating", {}), preset


def test_presets_that_count_epochs_pass_over_the_data():
    """The tutorials' 30 or 50 epochs are passes over the training set: those presets must not
    inherit the default's 8,000 steps an epoch (50 x 8,000 steps of 128 images would be 1,024
    passes over CIFAR-10)."""
    for preset in ("cifar10_dcgan", "cifar10_resnet", "mnist_mlp"):
        cfg = validate_all(compose_config([f"experiment={preset}"]))
        assert cfg.training.steps_per_epoch is None and cfg.training.epochs >= 30, preset


def test_folder_presets_score_utility_at_cpu_size():
    """A colour folder's downstream-utility classifiers train on 64x64 or 128x128 images: the
    folder presets cut the default's generated images and steps to a third (a CPU budget)."""
    default = validate_all(compose_config()).evaluation.utility
    for preset in ("folder64", "folder128"):
        utility = validate_all(compose_config([f"experiment={preset}"])).evaluation.utility
        assert utility.enabled and utility.steps * 3 <= default.steps, preset
        assert utility.generated_per_class * 3 <= default.generated_per_class, preset


def test_smoke_with_another_model():
    cfg = validate_all(compose_config(["experiment=smoke", "model=dcgan"]))
    assert cfg.model.name == "dcgan" and cfg.training.steps_per_epoch == 4


def _schemas():
    found, todo = (
        [],
        [
            v
            for k, v in vars(config).items()
            if dataclasses.is_dataclass(v) and k.endswith("Config")
        ],
    )
    from pipeline.data.specs import DATASETS
    from pipeline.gan import losses, regularizers
    from pipeline.models import MODELS

    for registry in (MODELS, losses.LOSSES, regularizers.REGULARIZERS, DATASETS):
        todo += [registry.entry(name).schema for name in registry.names()]
    for schema in todo:
        if schema is not None and isinstance(schema, type) and schema not in found:
            found.append(schema)
    return found


@pytest.mark.parametrize("schema", _schemas(), ids=lambda s: s.__name__)
def test_schemas_hold_no_defaults(schema):
    """One source of truth: a default in a schema could silently disagree with conf/."""
    for f in dataclasses.fields(schema):
        if dataclasses.is_dataclass(f.default_factory):
            continue  # a nested section, itself checked
        assert f.default is dataclasses.MISSING or f.default == "???", (
            f"{schema.__name__}.{f.name} has a default ({f.default!r}): put it in conf/"
        )


@pytest.mark.faults
def test_a_key_missing_from_conf_is_named():
    cfg = compose_config()
    OmegaConf.set_struct(cfg, False)
    del cfg.training["beta_1"]
    with pytest.raises(PipelineError, match=r"(?s)no value for training.beta_1.*conf/"):
        validate_all(cfg)


def test_every_stage_declares_sections_that_validate():
    cfg = compose_config()
    for stage in STAGES:
        validate(cfg, stage_schema(stage))


def test_a_stage_checks_only_its_sections():
    """prepare does not read the model: a broken model section does not stop it."""
    cfg = compose_config(["model.latent_dim=-3"])
    validate(cfg, stage_schema("prepare"))
    with pytest.raises(PipelineError, match="model.latent_dim"):
        validate(cfg, stage_schema("train"))


@pytest.mark.faults
def test_wrong_type_names_the_key():
    with pytest.raises(PipelineError, match="training.epochs"):
        validate_all(compose_config(["training.epochs=many"]))


@pytest.mark.parametrize(
    "override, key",
    [
        ("training.batch_size=0", "training.batch_size"),
        ("training.generator_lr=-1e-4", "training.generator_lr"),
        ("training.epochs=0", "training.epochs"),
        ("seed=-1", "seed"),
        ("evaluation.batch_size=0", "evaluation.batch_size"),
        ("dataset=image_folder dataset.channels=2", "dataset.channels"),
        ("model.discriminator_filters=[32,0]", "model.discriminator_filters"),
        ("loss=non_saturating loss.label_smoothing=1.5", "loss.label_smoothing"),
        ("generate.format=gif", "generate.format"),
    ],
)
@pytest.mark.faults
def test_out_of_range_names_the_key_and_the_fix(override, key):
    with pytest.raises(PipelineError, match=rf"(?s)'{key}'.*fix: use a value that is") as err:
        validate_all(compose_config(override.split()))
    assert str(err.value).count("\n") == 1, "one error line and one fix line"


@pytest.mark.faults
def test_unknown_key_is_refused():
    cfg = compose_config()
    OmegaConf.set_struct(cfg, False)
    cfg.training.epoch = 3  # a typo for epochs
    with pytest.raises(
        PipelineError, match=r"(?s)'training.epoch' is not.*did you mean training.epochs"
    ):
        validate_all(cfg)


@pytest.mark.faults
def test_unknown_registry_entry_lists_the_choices():
    cfg = compose_config()
    OmegaConf.set_struct(cfg, False)
    cfg.loss.name = "wasserstein-ish"
    with pytest.raises(PipelineError, match="unknown loss 'wasserstein-ish'; choose one of: hinge"):
        validate_all(cfg)


def test_interpolations_resolve_against_the_whole_config():
    cfg = compose_config(["dataset=mnist"])
    cfg.registry.model_name = "${dataset.name}-generator"  # a user's own, say
    assert validate_all(cfg).registry.model_name == "mnist-generator"


def test_a_class_label_is_a_name_or_a_number():
    assert validate_all(compose_config(["generate.label=7"])).generate.label == "7"
    assert validate_all(compose_config(["generate.label=Sneaker"])).generate.label == "Sneaker"


def test_committed_params_yaml_matches_conf():
    """`dvc repro` reads params.yaml as committed; it must equal DVC's composition of conf/."""
    result = run_module("pipeline.params", "--check")
    assert result.returncode == 0, result.stderr


def test_params_check_detects_drift(tmp_path):
    import shutil

    from tests.helpers.configs import ROOT

    for name in ("conf", "dvc.yaml", "params.yaml"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    original = (ROOT / "conf/training/default.yaml").read_text()
    changed = re.sub(r"^epochs: \d+", "epochs: 99", original, flags=re.MULTILINE)
    assert changed != original
    (tmp_path / "conf" / "training" / "default.yaml").write_text(changed)
    result = run_module("pipeline.params", "--check", cwd=tmp_path)
    assert result.returncode == 1 and "params.yaml is stale" in result.stderr
    assert "fix: python -m pipeline.params" in result.stderr


def test_validation_does_not_import_tensorflow():
    """Every stage validates first; checking the plug-in sections (model, loss, regularizers,
    dataset) must not cost a TensorFlow import: plug-in modules import it inside functions."""
    code = (
        "import sys\n"
        "from tests.helpers.configs import compose_config\n"
        "from pipeline.config import validate\n"
        "from pipeline.stages.prepare import PrepareConfig\n"
        "from pipeline.training.settings import GanSettings\n"
        "validate(compose_config(['regularizers=[r1]']), GanSettings)\n"
        "validate(compose_config(), PrepareConfig)\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = run_command([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_queued_dvc_experiment_resolves_to_the_real_repo(tmp_path):
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy.mkdir(parents=True)
    assert repo_root(copy) == tmp_path / "repo"


def test_default_tracking_uri_is_absolute_sqlite(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking_uri(compose_config().tracking)
    assert uri.startswith("sqlite:////") and uri.endswith("/mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(compose_config().tracking) == "http://127.0.0.1:5000"


def test_all_sections_cover_the_config():
    """Every top-level key of conf/ is read by some stage (or it would never be validated)."""
    tops = {key.split(".")[0] for stage in STAGES for key in stage_sections(stage)}
    assert set(compose_config()) <= tops


@pytest.mark.faults
@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["training.epoch=2"], "training.epoch"),  # a key conf/ does not have
        (
            ["model=transformer"],
            "conf/model/ has no option 'transformer'",
        ),  # an option conf/model/ does not have
        (["-m", "model=mlp,transformer"], "no option 'transformer'"),  # one value of a sweep
        (["training.epochs=[1,"], "cannot read the command line's overrides"),
        # Hydra composes without a misspelt option of an optional group, silently.
        (["experiment=smoek"], "conf/experiment/ has no option 'smoek'"),
        (["regularizers=[r1,r3]"], "conf/regularizers/ has no option 'r3'"),
    ],
    ids=["unknown-key", "unknown-option", "sweep-value", "malformed", "optional-group", "list"],
)
def test_hydras_refusals_become_error_and_fix_lines(args, shown, capsys):
    """Issue 9, #11: exit 2 with error/fix lines (Hydra itself exits 1 with its own text),
    before any job of a sweep runs."""
    from pipeline.cli import check_overrides

    with pytest.raises(SystemExit) as stopped:
        check_overrides(args)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.startswith("error: ") and shown in err
    assert "\n  fix: " in err


def test_good_overrides_and_hydras_own_flags_pass():
    from pipeline.cli import check_overrides

    check_overrides(["model=mlp", "training.epochs=2", "experiment=smoke"])
    check_overrides(["-m", "model=mlp,dcgan", "hydra/launcher=basic"])
    check_overrides(["--cfg", "job", "model=whatever"])  # left to Hydra


# --- typed all the way: sections by concern, renamed keys, keys of another source ------------


def test_a_stage_gets_its_sections_typed():
    """validate returns the stage's schema filled in: dataclasses, the plug-in sections as
    their entry's schema, so mypy checks every use of a setting."""
    from pipeline.data.settings import ImageFolderConfig, ReleaseConfig
    from pipeline.models.strided_dcgan import StridedDcganConfig

    cfg = validate(compose_config(), stage_schema("train"))
    assert isinstance(cfg, stage_schema("train"))
    assert isinstance(cfg.training, config.TrainingConfig)
    assert isinstance(cfg.compute, config.ComputeConfig) and cfg.compute.deterministic is True
    assert isinstance(cfg.model, StridedDcganConfig) and cfg.model.width == 64
    assert isinstance(cfg.dataset, ReleaseConfig)
    folder = validate(compose_config(["dataset=image_folder"]), stage_schema("prepare"))
    assert isinstance(folder.dataset, ImageFolderConfig) and folder.dataset.image_size == 32


@pytest.mark.parametrize("old, new", list(config.renamed.KEYS.items()))
@pytest.mark.faults
def test_a_key_moved_out_of_training_is_refused_with_its_new_name(old, new, capsys):
    """In a params file (or +key= override) validation says the new name; on the command line
    the stage does, before Hydra composes."""
    from pipeline.cli import check_overrides

    cfg = compose_config()
    OmegaConf.set_struct(cfg, False)
    OmegaConf.update(cfg, old, OmegaConf.select(cfg, new), force_add=True)
    with pytest.raises(PipelineError, match=rf"'{old}' was renamed '{new}'") as err:
        validate_all(cfg)
    assert new in err.value.fix
    with pytest.raises(SystemExit) as stopped:
        check_overrides([f"{old}=1"])
    err_text = capsys.readouterr().err
    assert stopped.value.code == 2 and f"'{old}' was renamed '{new}'" in err_text


@pytest.mark.parametrize(
    "old, new", [(f"{g}={o}", f"{g}={n}") for (g, o), n in config.renamed.OPTIONS.items()]
)
def test_a_renamed_preset_is_refused_with_its_new_name(old, new, capsys):
    from pipeline.cli import check_overrides

    with pytest.raises(SystemExit):
        check_overrides([old])
    assert f"'{old}' was renamed '{new}'" in capsys.readouterr().err


@pytest.mark.faults
def test_a_key_of_another_dataset_source_is_refused_never_ignored(capsys):
    """fashion_mnist is used as released: image_size would be ignored, so it is refused, with
    the keys the source has; on the command line too."""
    from pipeline.cli import check_overrides

    cfg = compose_config()
    OmegaConf.set_struct(cfg, False)
    cfg.dataset.image_size = 32
    with pytest.raises(PipelineError, match=r"(?s)'dataset.image_size' is not a setting of dataset"
                       r".*raw_dir, limit, title, mirror, download"):  # fmt: skip
        validate_all(cfg)
    with pytest.raises(SystemExit):
        check_overrides(["dataset.image_size=32"])
    err = capsys.readouterr().err
    assert "dataset.image_size" in err and "the keys of dataset: name, raw_dir" in err
    check_overrides(["dataset=image_folder", "dataset.image_size=64"])  # the folder's own key


@pytest.mark.faults
def test_a_misspelt_override_gets_the_closest_key(capsys):
    from pipeline.cli import check_overrides

    with pytest.raises(SystemExit):
        check_overrides(["compute.jit_compil=true"])
    assert "did you mean compute.jit_compile?" in capsys.readouterr().err


def test_omegaconf_stays_where_configs_are_composed_and_validated():
    """After validation nothing reads a DictConfig: the modules that compose a config, name a
    run before validation or set a trial's values are the only ones importing omegaconf."""
    import ast

    allowed = {"config/schema.py", "cli.py", "tracking/names.py", "sweeps/optuna_search.py",
               "sweeps/hydra_callback.py", "reference.py"}  # fmt: skip
    root = repo_root() / "pipeline"
    importing = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])  # fmt: skip
            if any(n and n.split(".")[0] == "omegaconf" for n in names):
                importing.add(str(path.relative_to(root)))
    assert importing <= allowed, importing - allowed
