"""The package's shape: thin stages that never import each other, library code free of DVC and
MLflow, and a module per stage named as dvc.yaml names it."""

from __future__ import annotations

import ast

import pytest

from tests.helpers.configs import ROOT, STAGES

PIPELINE = ROOT / "pipeline"
LIBRARY = ["data", "models", "gan", "training", "evaluation", "io.py", "viz.py", "config.py",
           "plugins.py", "artifacts.py", "errors.py"]  # fmt: skip
MLFLOW_ALLOWED = {"tracking.py", "model_registry.py", "serving/generator_model.py"}


def imports_of(path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def code_lines(path) -> int:
    """Lines of code: not blank, not comments, not docstrings."""
    tree = ast.parse(path.read_text())
    doc_lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(
        1
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if line.strip() and not line.strip().startswith("#") and i not in doc_lines
    )


@pytest.mark.parametrize("stage", STAGES)
def test_stage_modules_are_thin_and_independent(stage):
    path = PIPELINE / "stages" / f"{stage}.py"
    assert code_lines(path) <= 100, f"{path.name}: move logic into the library"
    others = {f"pipeline.stages.{s}" for s in STAGES} - {f"pipeline.stages.{stage}"}
    assert not imports_of(path) & others, f"{stage} imports another stage"


def library_files():
    for name in LIBRARY:
        path = PIPELINE / name
        yield from (sorted(path.rglob("*.py")) if path.is_dir() else [path])


@pytest.mark.parametrize("path", list(library_files()), ids=lambda p: str(p.relative_to(PIPELINE)))
def test_library_knows_nothing_of_dvc_or_mlflow(path):
    roots = {name.split(".")[0] for name in imports_of(path)}
    assert "dvc" not in roots
    assert "mlflow" not in roots or str(path.relative_to(PIPELINE)) in MLFLOW_ALLOWED
    assert "pipeline.stages" not in {".".join(n.split(".")[:2]) for n in imports_of(path)}
