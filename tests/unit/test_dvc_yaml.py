"""dvc.yaml against the code: every stage's deps are exactly the project files it imports,
its params cover the config sections it reads, and the files it names are pipeline.artifacts'."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline import artifacts
from tests.helpers.configs import ROOT, STAGES, stage_sections
from tests.helpers.imports import needed_files

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PIPELINE_STAGES = list(DVC)


def test_dvc_stages_are_the_stage_modules():
    assert set(PIPELINE_STAGES) == set(STAGES) - {"generate"}
    for name, stage in DVC.items():
        assert stage["cmd"] == f"python -m pipeline.stages.{name} --params params.yaml"


def code_deps(name: str) -> list[Path]:
    return [Path(d) for d in DVC[name]["deps"] if str(d).startswith("pipeline")]


def covered(path: Path, deps: list[Path]) -> bool:
    return any(path == d or d in path.parents for d in deps)


@pytest.mark.parametrize("name", PIPELINE_STAGES)
def test_every_imported_module_is_a_dependency(name):
    needed = needed_files(f"pipeline.stages.{name}")
    missing = sorted(str(p) for p in needed if not covered(p, code_deps(name)))
    assert not missing, f"dvc.yaml stage {name} lacks deps: {missing}"


@pytest.mark.parametrize("name", PIPELINE_STAGES)
def test_no_dependency_the_stage_does_not_import(name):
    """A listed folder must be needed whole: otherwise a change there reruns the stage for
    nothing (list the files instead)."""
    needed = needed_files(f"pipeline.stages.{name}")
    for dep in code_deps(name):
        files = [dep] if dep.suffix == ".py" else sorted(dep.rglob("*.py"))
        files = [f.relative_to(ROOT) if f.is_absolute() else f for f in files]
        assert files, f"{dep} holds no Python files"
        unneeded = [str(f) for f in files if f not in needed]
        assert not unneeded, f"stage {name} lists {dep} but does not import {unneeded}"


@pytest.mark.parametrize("name", PIPELINE_STAGES)
def test_params_cover_the_sections_the_stage_reads(name):
    """A change of a section the stage reads must rerun it; tracking never changes outputs."""
    params = [str(p) for p in DVC[name].get("params", [])]
    for section in stage_sections(name):
        if section in ("tracking", "seed", "paths"):  # seed: below; paths: the deps and outs
            continue
        related = [p for p in params if p == section or p.startswith(section + ".")
                   or section.startswith(p + ".")]  # fmt: skip
        assert related, f"dvc.yaml stage {name} reads '{section}' but lists no such param"


def test_named_files_are_the_artifacts_contracts():
    names = {v for k, v in vars(artifacts).items() if k.isupper() and isinstance(v, str)}
    for stage in DVC.values():
        for kind in ("metrics", "plots"):
            for entry in stage.get(kind, []):
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                assert Path(path).name in names, f"{path} is not named in pipeline.artifacts"


def test_dvc_plots_show_each_picture_once_and_works_offline(tmp_path):
    """`dvc plots show` (run in this repo): every chart and image once, and a page that loads
    no script from the network (plots/offline.html inlines vega, vega-lite and vega-embed)."""
    import re
    import subprocess

    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    charted = {f for entry in spec["plots"] if isinstance(entry, dict)
               for chart in entry.values() for f in chart.get("y", {})}  # fmt: skip
    stage_plots = [next(iter(p)) if isinstance(p, dict) else p
                   for stage in spec["stages"].values() for p in stage.get("plots", [])]  # fmt: skip
    assert not {p.replace("${paths.plots}", "plots") for p in stage_plots} & charted
    template = (ROOT / "plots" / "offline.html").read_text()
    assert "{plot_divs}" in template and not re.search(r"<script[^>]+src=", template)
    result = subprocess.run(["dvc", "plots", "show", "-o", str(tmp_path / "out")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "out" / "index.html").read_text()
    assert not re.search(r"<script[^>]*\ssrc=", page)  # nothing fetched
    images = re.findall(r'<img src="(static/[^"]+)"', page)
    assert len(images) == len(set(images)) == 4
    assert page.count("vegaEmbed('#") == len(spec["plots"])
