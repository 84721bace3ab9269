"""The package's shape: thin stages that never import each other, library code free of DVC and
MLflow, and a module per stage named as dvc.yaml names it."""

from __future__ import annotations

import ast

import pytest

from tests.helpers.configs import ROOT, STAGES

PIPELINE = ROOT / "pipeline"
LIBRARY = ["data", "models", "gan", "training", "evaluation", "io.py", "viz.py", "config",
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


def imported_names(path) -> list[str]:
    """The names a module imports at its top (``from x import a, b``: a and b)."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.ImportFrom) and node.module != "__future__") or isinstance(
            node, ast.Import
        ):
            names += [alias.name for alias in node.names]
    return names


@pytest.mark.parametrize("stage", STAGES)
def test_stage_modules_are_thin_and_independent(stage):
    """A stage reads its inputs, calls a library function per step and writes its outputs:
    every stage, train included, within the same bounds of code and of names imported."""
    path = PIPELINE / "stages" / f"{stage}.py"
    assert code_lines(path) <= 100, f"{path.name}: move logic into the library"
    assert len(imported_names(path)) <= 30, f"{path.name}: one library call per step"
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


def project_imports() -> dict[str, set[str]]:
    """Module -> the project modules it imports, anywhere in its file (lazy imports too)."""
    from tests.helpers.imports import module_file, project_modules_named

    graph = {}
    for path in PIPELINE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        named = project_modules_named(path.read_text())
        graph[name] = {n for n in named if module_file(n) and n != name}
    return graph


def test_no_import_cycles_in_the_package():
    """Lazy imports inside functions count too: a cycle is a cycle, whenever it is imported."""
    graph = project_imports()
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == path[0]:
                cycles.append(" -> ".join([*path, nxt]))
            elif nxt not in path and nxt > path[0]:  # each cycle once, from its least module
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


# Our own private names are allowed; anything else behind an underscore is Keras's or TF's.
def own_private_names() -> set[str]:
    names: set[str] = set()
    for path in PIPELINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name.startswith("_"):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return {n for n in names if n.startswith("_")}


def test_no_module_over_400_lines():
    """Modules that fit in a reader's head."""
    long = {str(p.relative_to(ROOT)): n for p in PIPELINE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}  # fmt: skip
    assert long == {}


def test_benchmarks_and_tests_use_keras_public_api_only():
    """What the package may not do, its benchmarks and tests may not either."""
    import keras

    private = {n for cls in (keras.Model, keras.layers.Layer, keras.optimizers.Optimizer)
               for n in dir(cls) if n.startswith("_") and not n.startswith("__")}  # fmt: skip
    found = []
    for folder in ("benchmarks", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in private:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert found == []


def test_no_private_keras_attribute_in_the_package():
    """Private attributes change without notice between Keras releases: `pipeline/` uses the
    public API only, and overrides no private method (a private name we define that Keras
    also defines would be one)."""
    import keras

    keras_private = {n for n in dir(keras.Model) if n.startswith("_") and not n.startswith("__")}
    overrides = own_private_names() & keras_private
    assert overrides == set()
    own = own_private_names()
    found = []
    for path in PIPELINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            attr = getattr(node, "attr", "") if isinstance(node, ast.Attribute) else ""
            if attr.startswith("_") and not attr.startswith("__") and attr not in own:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert found == []
