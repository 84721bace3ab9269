"""The README's headline table, generated from a benchmark result, never typed by hand.

    python benchmarks/headline.py                      # rewrite the table in README.md
    python benchmarks/headline.py --check              # exit 1 when README.md is stale
    python benchmarks/headline.py --record metrics/eval.json --run "dvc repro (default)" \
        --date 2026-12-04 --machine "2-core CPU, no GPU" --wall "4 min 24 s" --commit c3f6a58

The result is benchmarks/results/headline.json: one row per scoring of one generator, each with
its date, machine, commit, protocol (feature space and sample counts) and the real-vs-real floor
under that protocol. ``--record`` adds (or replaces, by protocol) a row read from an eval.json
that `evaluate` wrote; the README's block between its two markers is made from the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "headline.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- headline: begin -->", "<!-- headline: end -->"
SCORES = ("fid", "kid_mean", "precision", "recall", "coverage")


def row_of(evaluation: dict[str, Any], run: str, date: str, machine: str, wall: str,
           commit: str) -> dict[str, Any]:  # fmt: skip
    """A headline row from what `evaluate` wrote (eval.json)."""
    return {
        "run": run,
        "date": date,
        "machine": machine,
        "wall": wall,
        "commit": commit,
        "protocol": evaluation["protocol"]["name"],
        "feature_space": evaluation["protocol"]["feature_space"],
        "scores": {key: evaluation[key] for key in SCORES if key in evaluation},
        "floor": {key: evaluation["floor"][key] for key in SCORES if key in evaluation["floor"]},
    }


def table(result: dict[str, Any]) -> str:
    """The README block: what was run, where and when, then one row per protocol."""
    rows = result["rows"]
    first = rows[0]
    lines = [
        BEGIN,
        f"{first['run']}: {first['wall']} on {first['machine']}, {first['date']} (commit "
        f"{first['commit']}). One generator, scored under {len(rows)} protocol"
        f"{'s' if len(rows) > 1 else ''}; the floor is real "
        "training images against the same test images, the best a generator can expect. "
        + result["note"],
        "",
        "| protocol | FID | floor | KID | precision | recall | coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s = row["scores"]
        lines.append(
            f"| {row['protocol']} | **{s['fid']:.2f}** | {row['floor']['fid']:.2f} | "
            f"{s['kid_mean']:.4f} | {s['precision']:.3f} | {s['recall']:.3f} | "
            f"{s['coverage']:.3f} |"
        )
    lines += ["", f"Generated from `benchmarks/results/headline.json` by `python {rel()}`.", END]
    return "\n".join(lines)


def rel() -> str:
    return str(Path(__file__).resolve().relative_to(ROOT))


def refreshed(readme: str, result: dict[str, Any]) -> str:
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + table(result) + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md is stale")
    parser.add_argument("--record", type=Path, help="an eval.json to add to the result")
    for name in ("run", "date", "machine", "wall", "commit"):
        parser.add_argument(f"--{name}", default="")
    args = parser.parse_args(argv)
    result = json.loads(RESULT.read_text())
    if args.record:
        row = row_of(json.loads(args.record.read_text()), args.run, args.date, args.machine,
                     args.wall, args.commit)  # fmt: skip
        result["rows"] = [r for r in result["rows"] if r["protocol"] != row["protocol"]] + [row]
        RESULT.write_text(json.dumps(result, indent=2) + "\n")
    readme = README.read_text()
    text = refreshed(readme, result)
    if args.check:
        if text != readme:
            print(f"README.md's headline is stale\n  fix: python {rel()}", file=sys.stderr)
            return 1
        return 0
    README.write_text(text)
    print("wrote the headline of README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
