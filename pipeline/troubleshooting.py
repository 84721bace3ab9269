"""The troubleshooting page, generated from the errors the code raises.

    python -m pipeline.troubleshooting docs/troubleshooting.md          # write it
    python -m pipeline.troubleshooting docs/troubleshooting.md --check  # exit 1 when stale

Every ``PipelineError(problem, fix)`` (and its subclasses) in ``pipeline/``, and every refusal of
the served model (``_bad_request``), is read from the source with ``ast`` and shown as a person
sees it: ``error: <problem>`` and ``fix: <fix>``, with each value the message fills in shown as
``<name>``. The messages have one source, the code, so the page cannot drift from them; a test
fails when it is stale.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.io import write_or_check

ROOT = Path(__file__).resolve().parent.parent
ERRORS = {"PipelineError", "Interrupted", "ServerGone"}
REFUSALS = {"_bad_request"}  # pipeline/serving: a 400 over HTTP, an MlflowException in Python
# Readable names for the values a message fills in.
PLACEHOLDERS = {"e": "error", "why": "reason", "exc": "error", "detail": "detail"}

# Areas of the page, by the first path (relative to pipeline/) that a module starts with; the
# text says what the errors of that area have in common.
AREAS: list[tuple[str, tuple[str, ...], str]] = [
    (
        "Any stage",
        ("cli.py", "io.py", "artifacts.py"),
        "Problems any stage can meet: the disk, an interruption, the output of an earlier "
        "stage missing or from another run.",
    ),
    (
        "Configuration",
        ("config/", "plugins.py"),
        "The config is validated before any work starts, in the command line's overrides and "
        "in a params file alike. Every key, its type and its allowed values: "
        "[Configuration reference](reference.md).",
    ),
    (
        "Data (prepare)",
        ("data/",),
        "Raw files that are missing, corrupt or not what the config says; prepared data from "
        "another config. [Your own data](your-data.md) says how a folder is read.",
    ),
    (
        "Models and training",
        ("models/", "gan/", "training/"),
        "A model that cannot build the data's image size, settings that do not fit together, "
        "training that diverged or was stopped, checkpoints, several devices or workers.",
    ),
    (
        "Evaluation",
        ("evaluation/",),
        "Scoring needs enough images, a feature space that fits the data and, for the "
        "Inception space, its weights. [Evaluation](evaluation.md) explains the choices.",
    ),
    (
        "Tracking and the registry",
        ("tracking/", "model_registry.py"),
        "The MLflow store or server, and the registry's comparison with the champion.",
    ),
    (
        "Generating and serving",
        ("stages/generate.py", "explore.py", "serving/"),
        "`generate` and the served model. The served model's refusals reach a client as HTTP "
        "400 with the message in the body ([Generating and serving](serving.md)).",
    ),
    (
        "Sweeps",
        ("sweeps/", "tune.py"),
        "Hydra multirun and Optuna searches ([Sweeps](sweeps.md)).",
    ),
]

HEADER = """# Troubleshooting

Generated from the code by `python -m pipeline.troubleshooting docs/troubleshooting.md`: every
error the pipeline can stop with, as it prints it, and the fix it prints. A test fails when this
page is stale, so a message changed in the code changes here. Search this page for the words of
your message; `<name>` stands for a value the message fills in (a path, a number, a key).

Every error the pipeline knows about ends a stage with two lines on stderr and exit status 2:

```text
error: <what is wrong, naming the file, key or value>
  fix: <what to do about it>
```

and nothing it had produced is lost or overwritten: outputs are written to a temporary name and
renamed. A stop asked for by a signal (Ctrl-C, `SIGTERM`, a CI job's cancel) exits with 128 plus
the signal's number (130, 143) after saving a checkpoint. A traceback instead of these two lines
is a bug: please report it with the command you ran. Questions that are not errors ("is my FID
good?", "how long on a CPU?"): [FAQ](faq.md).
"""


@dataclass(frozen=True)
class Message:
    module: str  # relative to pipeline/
    line: int
    problem: str
    fix: str | None
    refusal: bool  # the served model's (HTTP 400), not a stage's


def render(node: ast.AST | None, scope: list[ast.AST]) -> str:
    """The text a string expression makes, each value it fills in shown as ``<name>``."""
    if node is None:
        return ""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(render(part, scope) for part in node.values)
    if isinstance(node, ast.FormattedValue):
        return placeholder(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return render(node.left, scope) + render(node.right, scope)
    if isinstance(node, ast.IfExp):
        return f"[{render(node.body, scope)} | {render(node.orelse, scope)}]"
    if isinstance(node, ast.Name):
        value = assigned(node.id, scope)
        return render(value, scope) if value is not None else placeholder(node)
    return placeholder(node)


def placeholder(node: ast.AST) -> str:
    """``<name>`` for a value a message fills in, named after what it is computed from."""
    if isinstance(node, ast.Name):
        return f"<{PLACEHOLDERS.get(node.id, node.id)}>"
    if isinstance(node, ast.Attribute):
        if node.attr != "__name__":
            return f"<{node.attr}>"
        of_error = isinstance(node.value, ast.Call) and ast.unparse(node.value) == "type(e)"
        return "<error type>" if of_error else placeholder(node.value)
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return f"<{key.value}>"
        return placeholder(node.value)
    if isinstance(node, ast.GeneratorExp | ast.ListComp):
        return placeholder(node.elt)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and node.func.attr == "join" and node.args:
            return placeholder(node.args[0])  # ", ".join(missing): missing's
        if isinstance(node.func, ast.Attribute):
            if isinstance(node.func.value, ast.Name) and node.func.value.id == "self":
                return f"<{node.func.attr}>"  # self.names(): names
            return placeholder(node.func.value)  # str(e).splitlines(): e's
        if node.args:
            return placeholder(node.args[0])  # len(bad), str(path): bad's, path's
    return "<...>"


def assigned(name: str, scope: list[ast.AST]) -> ast.AST | None:
    """The value last given to ``name`` by a plain assignment in the innermost of ``scope``'s
    blocks that has one (the enclosing function, the module, then every module's string
    constants, for a name imported); None when it is computed some other way."""
    for block in reversed(scope):
        found = None
        for node in ast.walk(block):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets
            ):
                found = node.value
        if found is not None:
            return found
    return None


def returned_pair(function: str, trees: dict[str, ast.Module]) -> tuple[ast.AST, ast.AST] | None:
    """The (problem, fix) a message helper such as ``renamed_message`` returns."""
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == function:
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Tuple):
                        first, second = ret.value.elts
                        return first, second
    return None


def messages(package: Path = ROOT / "pipeline") -> list[Message]:
    trees = {
        str(path.relative_to(package)): ast.parse(path.read_text())
        for path in sorted(package.rglob("*.py"))
    }
    # Every module's string constants, the outermost scope: names a message imports.
    constants = ast.Module(
        body=[
            node
            for tree in trees.values()
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ],
        type_ignores=[],
    )
    found: list[Message] = []
    for module, tree in trees.items():
        for inner, call in calls(tree):
            scope = [constants, *inner]
            name = call.func.id if isinstance(call.func, ast.Name) else None
            if name is None and isinstance(call.func, ast.Attribute):
                name = call.func.attr
            if name not in ERRORS | REFUSALS:
                continue
            args: list[ast.AST] = list(call.args)
            if args and isinstance(args[0], ast.Starred) and isinstance(args[0].value, ast.Call):
                helper = args[0].value.func
                pair = returned_pair(helper.id, trees) if isinstance(helper, ast.Name) else None
                args = list(pair) if pair else args
            problem = render(args[0], scope) if args else ""
            fix = render(args[1], scope) if len(args) > 1 and name in ERRORS else None
            found.append(Message(module, call.lineno, problem, fix or None, name in REFUSALS))
    return sorted(found, key=lambda m: (m.module, m.line))


def calls(tree: ast.Module) -> list[tuple[list[ast.AST], ast.Call]]:
    """Every call in the module, with the scopes it sits in (the module, then functions)."""
    out: list[tuple[list[ast.AST], ast.Call]] = []

    def visit(node: ast.AST, scope: list[ast.AST]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [*scope, child]
            if isinstance(child, ast.Call):
                out.append((scope, child))
            visit(child, inner)

    visit(tree, [tree])
    return out


def area_of(module: str) -> str:
    for title, prefixes, _ in AREAS:
        if module.startswith(prefixes):
            return title
    return AREAS[0][0]


def page() -> str:
    by_area: dict[str, list[Message]] = {title: [] for title, _, _ in AREAS}
    for message in messages():
        by_area[area_of(message.module)].append(message)
    parts = [HEADER]
    for title, _, about in AREAS:
        parts.append(f"\n## {title}\n\n{about}\n")
        modules: dict[str, list[str]] = {}
        for m in by_area[title]:
            shown = (
                f"HTTP 400: {m.problem}"
                if m.refusal
                else f"error: {m.problem}" + (f"\n  fix: {m.fix}" if m.fix else "")
            )
            if shown not in modules.setdefault(m.module, []):  # one message raised twice
                modules[m.module].append(shown)
        # The module, not the line: an edit above a message must not make the page stale.
        for module, shown_all in modules.items():
            body = "\n\n".join(shown_all)
            parts.append(f"\nFrom `pipeline/{module}`:\n\n```text\n{body}\n```\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("page", nargs="?", default="docs/troubleshooting.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is stale")
    args = parser.parse_args(argv)
    target = Path(args.page)
    return write_or_check(
        target, page(), args.check, f"python -m pipeline.troubleshooting {target}"
    )


if __name__ == "__main__":
    sys.exit(main())
