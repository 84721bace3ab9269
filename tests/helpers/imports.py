"""Which project files a module needs: its `pipeline` imports, followed transitively.

python -m tests.helpers.imports pipeline.stages.train   # print the files, as dvc.yaml deps
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "pipeline"
# Code a module uses by file path rather than by import: MLflow stores the serving model's
# source with every registered model.
LOADED_BY_PATH = {"pipeline/model_registry.py": ["pipeline/serving/generator_model.py"]}


def module_file(name: str) -> Path | None:
    path = ROOT.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def project_modules_named(source: str) -> set[str]:
    """Every module named by an import statement anywhere in ``source`` (lazy ones too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from pipeline.x import y` names the module pipeline.x.y when it exists.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")}


def needed_files(module: str) -> set[Path]:
    """The files of every project module that importing ``module`` runs, itself included:
    parent packages' __init__ files, and every module of a package whose __init__ calls
    import_submodules (a plug-in package)."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            path = module_file(".".join(parts[:i]))
            if path is None or path in seen:
                continue
            seen.add(path)
            for extra in LOADED_BY_PATH.get(str(path.relative_to(ROOT)), []):
                seen.add(ROOT / extra)
            source = path.read_text()
            todo.extend(project_modules_named(source))
            if path.name == "__init__.py" and "import_submodules(__name__)" in source:
                package = ".".join(parts[:i])
                todo.extend(f"{package}.{p.stem}" for p in path.parent.glob("*.py"))
    return {p.relative_to(ROOT) for p in seen}


if __name__ == "__main__":
    for path in sorted(needed_files(sys.argv[1])):
        print(path)
