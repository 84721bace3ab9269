"""Pictures of the MLflow UI for the docs: the compare view of the newest sweep's children, a
model version's page (its model card), or the run of a version (overview or model metrics).

    python -m pipeline.tune -m experiment=smoke training.generator_lr=1e-4,2e-4
    python scripts/ui_screenshot.py --store sqlite:///mlflow.db --out docs/mlflow-compare.png
    python scripts/ui_screenshot.py --view version --model fashion_mnist-generator --version 1 \
        --out docs/images/model-version.png
    python scripts/ui_screenshot.py --view run-metrics --model fashion_mnist-generator \
        --version 1 --out docs/images/run-samples.png

Starts `mlflow server` on the store (127.0.0.1, a free port), opens the compare view of the
newest sweep's child runs in headless Chromium (Debian: `apt-get install chromium`), saves the
screenshot, and stops the server.
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite:///mlflow.db")
    parser.add_argument("--out", type=Path, default=Path("docs/mlflow-compare.png"))
    parser.add_argument(
        "--view",
        choices=("compare", "parent", "version", "run", "run-metrics", "experiment"),
        default="compare",
    )
    parser.add_argument("--model", default="fashion_mnist-generator")
    parser.add_argument("--version", default="1")
    parser.add_argument("--size", default="1600,1100")
    parser.add_argument("--wait-ms", type=int, default=20000, help="the page's time to load")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("error: no chromium\n  fix: apt-get install chromium", file=sys.stderr)
        return 2

    import mlflow

    client = mlflow.MlflowClient(args.store)
    experiment = client.get_experiment_by_name("gan-pipeline")
    if experiment is None:
        print(
            f"error: no experiment gan-pipeline in {args.store}\n  fix: run a sweep first",
            file=sys.stderr,
        )
        return 2
    if args.view == "experiment":
        route = f"experiments/{experiment.experiment_id}"
    elif args.view in ("version", "run", "run-metrics"):
        version = client.get_model_version(args.model, args.version)
        route = {
            "version": f"models/{args.model}/versions/{args.version}",
            "run": f"experiments/{experiment.experiment_id}/runs/{version.run_id}",
            "run-metrics": f"experiments/{experiment.experiment_id}/runs/{version.run_id}"
            "/model-metrics",
        }[args.view]
    else:
        parents = client.search_runs(
            [experiment.experiment_id],
            "tags.sweep = 'hydra'",
            order_by=["attributes.start_time DESC"],
        )
        if not parents:
            print(
                "error: no sweep in the store\n  fix: run python -m pipeline.tune -m ...",
                file=sys.stderr,
            )
            return 2
        parent = parents[0]
        children = client.search_runs(
            [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
        )
        if args.view == "compare":
            runs = urllib.parse.quote(json.dumps([c.info.run_id for c in children]))
            exps = urllib.parse.quote(json.dumps([experiment.experiment_id]))
            route = f"compare-runs?runs={runs}&experiments={exps}"
        else:
            route = f"experiments/{experiment.experiment_id}/runs/{parent.info.run_id}"
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
        args.out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={args.size}", f"--virtual-time-budget={args.wait_ms}",
             f"--screenshot={args.out.resolve()}", url],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        print(f"{args.out}: {url}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
