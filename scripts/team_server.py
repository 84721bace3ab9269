"""A team tracking server on one machine: PostgreSQL as MLflow's backend store and the MLflow
server itself serving the artifacts (``--artifacts-destination``), both on 127.0.0.1 unless
told otherwise.

    python scripts/team_server.py start --dir /srv/mlflow --port 5000
    export MLFLOW_TRACKING_URI=http://127.0.0.1:5000     # on every machine that trains
    python scripts/team_server.py stop --dir /srv/mlflow

Everything lives under ``--dir``: ``pgdata/`` (the database cluster, made by initdb on the first
start), ``artifacts/``, the logs and the process ids. PostgreSQL comes from Debian's
`postgresql` package (scripts/setup.sh installs it); MLflow talks to it through psycopg2
(`pip install -e ".[cluster]"`). As root, PostgreSQL runs as the `postgres` user (it refuses to
run as root). For a server other machines reach, pass ``--host 0.0.0.0`` and put it behind
your network's access control: MLflow's server has no authentication of its own here.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DATABASE = "mlflow"


def postgres_binary(name: str) -> str:
    """initdb, pg_ctl, createdb: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        sys.exit(
            f"error: PostgreSQL's {name} is not installed\n"
            "  fix: apt-get install postgresql (scripts/setup.sh does it when it can)"
        )
    return found


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start(folder: Path, port: int, db_port: int, host: str) -> str:
    """Start PostgreSQL and the MLflow server; returns the tracking URI."""
    folder.mkdir(parents=True, exist_ok=True)
    data, sockets = folder / "pgdata", folder / "sockets"
    owner = "postgres" if os.geteuid() == 0 else None
    for path in (folder, sockets):
        path.mkdir(exist_ok=True)
        if owner:
            shutil.chown(path, owner)
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            as_postgres([postgres_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "mlflow"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -c port={db_port} -k {sockets}"
    subprocess.run(
        as_postgres([postgres_binary("pg_ctl"), "-D", str(data), "-l", str(folder / "postgres.log"),
                     "-o", options, "-w", "start"]),
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    created = subprocess.run(
        [postgres_binary("createdb"), "-h", "127.0.0.1", "-p", str(db_port), "-U", "mlflow", DATABASE],
        capture_output=True, text=True,
    )  # fmt: skip
    if created.returncode and "already exists" not in created.stderr:
        sys.exit(f"error: cannot create the database: {created.stderr.strip()}")
    store = f"postgresql+psycopg2://mlflow@127.0.0.1:{db_port}/{DATABASE}"
    log = open(folder / "mlflow.log", "ab")  # noqa: SIM115 (the server's, kept open by it)
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store,
         "--artifacts-destination", str(folder / "artifacts"), "--host", host,
         "--port", str(port), "--workers", "2"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    (folder / "mlflow.pid").write_text(str(server.pid))
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"error: the MLflow server stopped at start; see {folder / 'mlflow.log'}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                if answer.status == 200:
                    return uri
        except OSError:
            time.sleep(0.5)
    sys.exit(f"error: the MLflow server did not answer in 120 s; see {folder / 'mlflow.log'}")


def stop(folder: Path) -> None:
    """Stop the MLflow server (its whole process group) and PostgreSQL."""
    pid_file = folder / "mlflow.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink()
    if (folder / "pgdata" / "postmaster.pid").exists():
        subprocess.run(
            as_postgres([postgres_binary("pg_ctl"), "-D", str(folder / "pgdata"), "-m", "fast",
                         "-w", "stop"]),
            check=False, stdout=subprocess.DEVNULL,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", type=Path, required=True, help="where everything is kept")
    parser.add_argument("--port", type=int, default=5000, help="the MLflow server's")
    parser.add_argument("--db-port", type=int, default=5432, help="PostgreSQL's")
    parser.add_argument("--host", default="127.0.0.1", help="where the MLflow server listens")
    args = parser.parse_args(argv)
    if args.action == "start":
        uri = start(args.dir.resolve(), args.port, args.db_port, args.host)
        print(f"MLflow server on PostgreSQL: export MLFLOW_TRACKING_URI={uri}")
    else:
        stop(args.dir.resolve())
        print("stopped")


if __name__ == "__main__":
    main()
