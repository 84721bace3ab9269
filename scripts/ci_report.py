"""The retraining workflow's logic (.github/workflows/retrain.yml), kept out of YAML so that it
can be run and tested locally.

    python scripts/ci_report.py retrain [--summary FILE] [--comment FILE]
        Overrides come from $OVERRIDES (the workflow's dispatch input, passed through env:),
        each checked against a strict pattern and handed to `dvc exp run -S` as an argument
        list: no shell ever sees them. The commit to compare with is chosen before training
        (the current champion's training commit, else the previous commit); then the pipeline
        runs and the report is written: `dvc metrics diff` and `dvc params diff` (markdown), the
        register stage's decision and its reason, and where the sample grid is.
    python scripts/ci_report.py report --base REV [--summary FILE] [--comment FILE]
        The report alone, against REV.
    python scripts/ci_report.py comment --pr N --body FILE
        One comment on pull request N, updated in place on later runs (needs `gh` and
        $GH_TOKEN, which GitHub's runners have).

Exit status 2 with an error/fix message for a refused override; the pipeline's own status if
it fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- gan-pipeline:retrain -->"  # finds the comment to update
# key=value, the key dotted (a group: model=dcgan_small), the value a number, a word, or a
# bracketed list of them; nothing a shell, YAML or Hydra could read as more than that.
OVERRIDE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}=[A-Za-z0-9_.,:+\-\[\]]{1,100}$")
# Where outputs and runs go is the workflow's to decide, not an input's.
REFUSED_KEYS = ("hydra", "paths", "tracking")


class Refused(Exception):
    pass


def parse_overrides(text: str) -> list[str]:
    """Whitespace-separated Hydra overrides, each checked; raises Refused naming the bad one."""
    overrides = text.split()
    if len(overrides) > 20:
        raise Refused(f"{len(overrides)} overrides: at most 20")
    for override in overrides:
        if not OVERRIDE.match(override):
            raise Refused(
                f"override {override!r} is not of the form key=value with letters, digits and "
                "_ . , : + - [ ] only"
            )
        if override.split("=", 1)[0].split(".")[0] in REFUSED_KEYS:
            raise Refused(f"override {override!r}: {', '.join(REFUSED_KEYS)} are set by CI")
    return overrides


def exp_run_command(overrides: list[str]) -> list[str]:
    command = ["dvc", "exp", "run"]
    for override in overrides:
        command += ["-S", override]
    return command


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def champion_commit(repo: Path, model_name: str) -> str | None:
    """The git commit that trained the registered champion, if the tracking store has one and
    this clone has that commit."""
    try:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient()
        version = client.get_model_version_by_alias(model_name, "champion")
        commit = client.get_run(version.run_id).data.tags.get("git_commit", "")
    except (ImportError, MlflowException, OSError):
        return None
    commit = commit.removesuffix("-dirty")
    if (
        not commit
        or subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=repo, capture_output=True
        ).returncode
    ):
        return None
    return commit


def baseline(repo: Path, model_name: str) -> tuple[str | None, str]:
    """(revision, why): the champion's commit, else the previous commit, else none."""
    commit = champion_commit(repo, model_name)
    if commit:
        return commit, f"the current champion's training commit {commit[:10]}"
    parent = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "HEAD~1"], cwd=repo, capture_output=True, text=True
    )
    if parent.returncode == 0:
        return (
            parent.stdout.strip(),
            f"the previous commit {parent.stdout.strip()[:10]} (no champion found)",
        )
    return None, "nothing (no champion, no previous commit)"


def dvc_diff(kind: str, base: str, repo: Path) -> str:
    result = subprocess.run(
        ["dvc", kind, "diff", base, "--md"], cwd=repo, capture_output=True, text=True
    )
    if result.returncode:
        return f"`dvc {kind} diff {base[:10]}` failed: {result.stderr.strip()[:500]}"
    return result.stdout.strip() or f"no {kind} changed"


def report(repo: Path, base: str | None, base_why: str, run_url: str | None = None) -> str:
    """The job summary (and pull request comment), in markdown."""
    register_file = repo / "metrics" / "register.json"
    lines = [MARKER, "## Retraining"]
    if register_file.is_file():
        decision = json.loads(register_file.read_text())
        won = decision["decision"] == "champion"
        lines.append(
            f"**{decision['model_name']} v{decision['version']} is "
            f"{decision['decision']}**{' (registered as the new champion)' if won else ''}: "
            f"{decision['reason']}."
        )
        lines += decision_details(repo, decision)
    else:
        lines.append("**No decision**: the register stage did not run (see the job's log).")
    lines.append(f"\nCompared with {base_why}.")
    if base:
        lines += ["\n### Metrics (`dvc metrics diff`)\n", dvc_diff("metrics", base, repo)]
        lines += ["\n### Parameters (`dvc params diff`)\n", dvc_diff("params", base, repo)]
    samples = repo / "plots" / "samples.png"
    where = f"[the run's artifacts]({run_url})" if run_url else "the workflow's artifact"
    if samples.is_file():
        lines.append(
            f"\n### Samples\n\nThe new generator's fixed-noise grid: `plots/samples.png` in {where}."
        )
    return "\n".join(lines) + "\n"


def decision_details(repo: Path, decision: dict) -> list[str]:
    """The FID difference with its interval, the per-class table, and the side-by-side sheet."""
    from pipeline.evaluation.catalog import FID

    comparison = decision.get("comparison") or {}
    lines = []
    eval_file = repo / "metrics" / "eval.json"
    protocol = json.loads(eval_file.read_text()).get("protocol", {}) if eval_file.is_file() else {}
    space = protocol.get("feature_space")
    if protocol:
        lines.append(
            f"\nScores in the **{space or 'classifier'}** feature space, protocol "
            f"`{protocol.get('key')}` ({protocol.get('name', 'unnamed')})."
        )
    fid = comparison.get("fid")
    if fid:
        lines.append(
            f"\n{FID.shown(space)} {fid['challenger']:.3f} against the champion's "
            f"{fid['champion']:.3f}: "
            f"difference {fid['difference']:+.3f}, {fid['confidence']:.0%} interval "
            f"[{fid['low']:+.3f}, {fid['high']:+.3f}] (lower is better; "
            f"rule `{decision.get('promotion', '?')}`)."
        )
    per_class_file = repo / "metrics" / "eval_per_class.json"
    per_class = json.loads(per_class_file.read_text()).get("per_class", {}) if (
        per_class_file.is_file()) else {}  # fmt: skip
    versus = comparison.get("per_class_fid", {})
    if per_class:
        lines += ["\n### Per class\n",
                  "| class | FID | champion's FID | difference (interval) | label accuracy | |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for name, scores in per_class.items():
            d = versus.get(name)
            fid_text = "n/a" if scores.get("fid") is None else f"{scores['fid']:.3f}"
            if d:
                interval = f"{d['difference']:+.3f}" + (
                    f" [{d['low']:+.3f}, {d['high']:+.3f}]" if d.get("samples") else "")  # fmt: skip
                flag = "**worse beyond noise**" if d["worse"] else ""
                champion = f"{d['champion']:.3f}"
            else:
                interval, flag, champion = "not compared", "", "n/a"
            lines.append(f"| {name} | {fid_text} | {champion} | {interval} | "
                         f"{scores.get('accuracy', float('nan')):.3f} | {flag} |")  # fmt: skip
    sheet = side_by_side(repo, decision)
    if sheet:
        lines.append(f"\nPer-class samples, champion and challenger side by side: `{sheet}`.")
    return lines


def side_by_side(repo: Path, decision: dict) -> str | None:
    """plots/champion_vs_challenger.png: the champion's per-class sheet (from its MLflow run)
    beside the new generator's, each headed; None when either is missing."""
    ours = repo / "plots" / "eval_samples.png"
    version = decision.get("champion_version")
    if not ours.is_file() or not version or int(version) == int(decision["version"]):
        return None
    try:
        import tempfile

        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
        from PIL import Image, ImageDraw

        client = MlflowClient()
        run_id = client.get_model_version(decision["model_name"], str(version)).run_id
        with tempfile.TemporaryDirectory() as tmp:
            theirs = Image.open(client.download_artifacts(
                run_id, "evaluation/eval_samples.png", tmp)).convert("RGB")  # fmt: skip
            mine = Image.open(ours).convert("RGB")
            head = 30
            sheet = Image.new("RGB", (theirs.width + mine.width + 20,
                                      head + max(theirs.height, mine.height)), "white")  # fmt: skip
            sheet.paste(theirs, (0, head))
            sheet.paste(mine, (theirs.width + 20, head))
            draw = ImageDraw.Draw(sheet)
            draw.text((theirs.width / 2, head / 2), f"champion v{version}", fill="black",
                      anchor="mm")  # fmt: skip
            draw.text((theirs.width + 20 + mine.width / 2, head / 2),
                      f"challenger v{decision['version']} ({decision['decision']} now)",
                      fill="black", anchor="mm")  # fmt: skip
            out = repo / "plots" / "champion_vs_challenger.png"
            sheet.save(out)
    except (ImportError, MlflowException, OSError) as e:
        print(f"note: no side-by-side samples ({type(e).__name__}: {e})", file=sys.stderr)
        return None
    return "plots/champion_vs_challenger.png"


def write_outputs(text: str, summary: str | None, comment: str | None) -> None:
    if not summary and not comment:
        print(text)
    for path in (summary, comment):
        if path:
            with open(path, "a" if path == summary else "w") as f:
                f.write(text)


def run_url() -> str | None:
    env = os.environ
    if all(env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")):
        return f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return None


def model_name(repo: Path) -> str:
    """The registered model's name before retraining: registry.model_name, else what register
    names it, after the data of the committed evaluation (else the dataset's title or name)."""
    import yaml

    from pipeline.model_registry import registered_name

    params = yaml.safe_load((repo / "params.yaml").read_text())
    evaluated = repo / "metrics" / "eval.json"
    title = json.loads(evaluated.read_text()).get("data_title") if evaluated.is_file() else None
    dataset = params["dataset"]
    title = title or dataset.get("title") or dataset["name"]
    return registered_name(params["registry"]["model_name"], title, str(evaluated))


def comment(pr: int, body_file: Path) -> None:
    """Create the pull request's retraining comment, or update the one a previous run left."""
    repo = os.environ["GITHUB_REPOSITORY"]
    found = subprocess.run(
        ["gh", "api", "--paginate", f"repos/{repo}/issues/{pr}/comments",
         "--jq", f'.[] | select(.body | startswith("{MARKER}")) | .id'],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    body = ["-F", f"body=@{body_file}"]
    if found:
        subprocess.run(
            ["gh", "api", "-X", "PATCH", f"repos/{repo}/issues/comments/{found[0]}", *body],
            check=True,
        )
    else:
        subprocess.run(["gh", "api", f"repos/{repo}/issues/{pr}/comments", *body], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("retrain", "report"):
        p = sub.add_parser(name)
        p.add_argument("--summary", help="append the report here ($GITHUB_STEP_SUMMARY)")
        p.add_argument("--comment", help="write the report here, for the pull request")
        p.add_argument("--repo", type=Path, default=ROOT)
        if name == "report":
            p.add_argument("--base", required=True, help="the revision to compare with")
    p = sub.add_parser("comment")
    p.add_argument("--pr", type=int, required=True)
    p.add_argument("--body", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.command == "comment":
        comment(args.pr, args.body)
        return 0
    repo = args.repo.resolve()
    if args.command == "report":
        text = report(repo, args.base, f"{args.base}", run_url())
        write_outputs(text, args.summary, args.comment)
        return 0
    try:
        overrides = parse_overrides(os.environ.get("OVERRIDES", ""))
    except Refused as e:
        print(
            f"error: {e}\n  fix: pass Hydra overrides such as 'training.epochs=2 model=dcgan_small'",
            file=sys.stderr,
        )
        return 2
    base, why = baseline(repo, model_name(repo))
    command = exp_run_command(overrides)
    print("+", shlex.join(command), flush=True)
    status = subprocess.run(command, cwd=repo).returncode
    text = report(repo, base, why, run_url())
    if status:
        text += (
            f"\n**The pipeline failed** (`{shlex.join(command)}` exited with status {status}).\n"
        )
    write_outputs(text, args.summary, args.comment)
    return status


if __name__ == "__main__":
    sys.exit(main())
