"""Pictures of the MLflow UI for the docs, taken as a person sees the pages: the model-training
view, every chart loaded, the assistant panel closed.

    pip install -e ".[screenshots]"; apt-get install chromium     # Playwright, a browser
    python scripts/ui_screenshot.py --view experiment --columns Dataset Source eval/fid floor/fid \\
        --tags registry.decision protocol.name --size 1900,520 --out docs/images/experiment-runs.png
    python scripts/ui_screenshot.py --view run-metrics --version 1 --search probe \\
        --out docs/images/run-probe-fid.png
    python scripts/ui_screenshot.py --view version --version 2 --out docs/images/model-version.png
    python -m pipeline.tune -m experiment=smoke training.generator_lr=1e-4,2e-4
    python scripts/ui_screenshot.py --view compare --plot-metric eval/fid --size 1900,1000 \\
        --out docs/images/mlflow-compare.png

Starts `mlflow server` on the store (127.0.0.1, a free port), opens the page in headless
Chromium through Playwright, waits for it, closes the assistant panel, ticks the runs table's
columns (`--columns` toggles metrics and attributes, `--tags` shows run tags: the table's columns
are a per-browser setting that no URL chooses), filters the charts (`--search`), saves the screenshot and stops the server.
The views: the `experiment`'s runs table; a registered `version`'s page (its model card); the
`run` of a version (overview) or its `run-metrics`; the newest sweep's `parent` run or the
`compare` view of its children.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

VIEWS = ("compare", "parent", "version", "run", "run-metrics", "experiment")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fail(problem: str, fix: str) -> int:
    print(f"error: {problem}\n  fix: {fix}", file=sys.stderr)
    return 2


def route_of(args: argparse.Namespace, client: Any, experiment_id: str) -> str | None:
    """The UI's route for the view; None when the store has no sweep for a sweep's view."""
    if args.view == "experiment":
        return f"experiments/{experiment_id}"
    if args.view in ("version", "run", "run-metrics"):
        run_id = client.get_model_version(args.model, args.version).run_id
        return {
            "version": f"models/{args.model}/versions/{args.version}",
            "run": f"experiments/{experiment_id}/runs/{run_id}",
            "run-metrics": f"experiments/{experiment_id}/runs/{run_id}/model-metrics",
        }[args.view]
    parents = client.search_runs(
        [experiment_id], "tags.sweep = 'hydra'", order_by=["attributes.start_time DESC"]
    )
    if not parents:
        return None
    parent = parents[0]
    if args.view == "parent":
        return f"experiments/{experiment_id}/runs/{parent.info.run_id}"
    children = client.search_runs(
        [experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    runs = urllib.parse.quote(json.dumps([c.info.run_id for c in children]))
    exps = urllib.parse.quote(json.dumps([experiment_id]))
    return f"compare-runs?runs={runs}&experiments={exps}"


def shoot(url: str, browser: str, args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    width, height = (int(v) for v in args.size.split(","))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser, args=["--no-sandbox"])
        page = chromium.new_page(viewport={"width": width, "height": height})
        page.goto(url)
        # Not "network idle": the UI polls the server while auto-refresh is on.
        page.wait_for_timeout(args.wait_ms)
        close = page.locator('[aria-label="Close"]')  # the assistant panel, open in a new browser
        if close.count():
            close.first.click()
        for column in [*args.columns, *args.tags]:
            search = page.get_by_placeholder("Search columns")
            if not search.is_visible():  # the menu, closed after some toggles
                page.get_by_role("button", name="Columns").click()
            search.fill(column)
            menu = page.get_by_role("dialog").filter(has=search)
            menu.get_by_text(column, exact=True).first.click()
        page.keyboard.press("Escape")
        if args.plot_metric:  # the compare view's plot: this metric instead of the first one
            label = page.get_by_text("Metrics:", exact=True)
            metrics = label.locator("xpath=following-sibling::div[1]")  # its select box
            metrics.locator("[class*=selection-item-remove]").first.click()
            metrics.get_by_role("combobox").click()
            page.keyboard.type(args.plot_metric)
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
        if args.search:
            page.get_by_placeholder("Search metric charts").fill(args.search)
        page.wait_for_timeout(args.wait_ms)  # charts drawn after the last change
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        chromium.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--store", default="sqlite:///mlflow.db")
    parser.add_argument("--out", type=Path, default=Path("docs/images/mlflow-compare.png"))
    parser.add_argument("--view", choices=VIEWS, default="compare")
    parser.add_argument("--model", default="fashion_mnist-generator")
    parser.add_argument("--version", default="1")
    parser.add_argument("--size", default="1600,1100", help="the window: width,height")
    parser.add_argument("--wait-ms", type=int, default=10000, help="the page's time to load")
    parser.add_argument(
        "--columns", nargs="*", default=[],
        help="the runs table's columns to toggle (experiment): metrics to show, attributes "
        "shown by default to hide (Dataset, Source)",
    )  # fmt: skip
    parser.add_argument("--tags", nargs="*", default=[], help="run tags to show (experiment)")
    parser.add_argument("--search", default="", help="charts to show (run-metrics): a filter")
    parser.add_argument("--plot-metric", default="", help="the metric of the compare view's plot")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return fail("no chromium", "apt-get install chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        return fail("Playwright is not installed", 'pip install -e ".[screenshots]"')

    import mlflow

    client = mlflow.MlflowClient(args.store)
    experiment = client.get_experiment_by_name("gan-pipeline")
    if experiment is None:
        return fail(f"no experiment gan-pipeline in {args.store}", "run dvc repro or a sweep")
    route = route_of(args, client, experiment.experiment_id)
    if route is None:
        return fail("no sweep in the store", "run python -m pipeline.tune -m ...")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", args.store,
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.5)
        # MLflow 3.17's UI picks its GenAI or model-training side from a toggle it keeps in the
        # browser (GenAI in a fresh one), not from the experiment's mlflow.experimentKind tag;
        # this parameter sets the toggle.
        url = f"{base}/#/{route}{'&' if '?' in route else '?'}workflowType=machine_learning"
        shoot(url, browser, args)
        print(f"{args.out}: {url}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
