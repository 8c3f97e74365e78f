"""``python -m experiments.tools.ui`` (``make ui``): print the link to each comparison's
runs table (the saved view :mod:`experiments.mlflow_ui` writes), then start the MLflow UI over
the harness's store; :func:`serve` starts a real ``mlflow server`` (tests, screenshots)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from experiments import tracking
from experiments.mlflow_ui import DEFAULT_UI, ENTRY_POINT, VIEW_KEY, VIEW_TAG_PREFIX, runs_url


def _store_uri(log_dir: str) -> str:
    return f"sqlite:///{(Path(log_dir).resolve() / 'mlflow.db')}"


def links(uri: str, base: str = DEFAULT_UI) -> list[tuple[str, int, str]]:
    """(experiment, number of grid-point runs, link) of every experiment with runs, newest
    first."""
    client = tracking.client_for(uri)
    out = []
    for exp in client.search_experiments(order_by=["last_update_time DESC"]):
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        if not runs:
            continue
        n = sum(1 for r in runs if r.data.tags.get("role") != "sweep")
        url = (runs_url(exp.experiment_id, base) if VIEW_TAG_PREFIX + VIEW_KEY in exp.tags
               else f"{base.rstrip('/')}/#/experiments/{exp.experiment_id}/runs?"
                    + urlencode({"workflowType": "machine_learning"}))
        out.append((exp.name, n, url))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(uri: str, *, port: int | None = None, timeout_s: float = 180.0):
    """A real ``mlflow server`` over ``uri`` on 127.0.0.1 (a free port by default), yielding
    its base URL once /health answers; stopped (its process group) on exit."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", uri,
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"mlflow server exited with {proc.returncode}:\n"
                                       f"{log.read().decode(errors='replace')[-3000:]}")
                try:
                    with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mlflow server on {base} not up after {timeout_s:.0f} s")
                time.sleep(0.5)
            yield base
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m experiments.tools.ui",
        description="Print the link to each comparison's runs table, then start the MLflow "
                    "UI over the harness's store (make ui).")
    p.add_argument("--log-dir", default="logs", help="paths.log_dir (default: ./logs)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--print-only", action="store_true", help="print the links, start nothing")
    args = p.parse_args(argv)
    db = Path(args.log_dir) / "mlflow.db"
    if not db.is_file():
        print(f"no MLflow store at {db}: run `make demo` (or `python -m {ENTRY_POINT} -m "
              f"experiment=NAME`) first", file=sys.stderr)
        return 3
    uri, base = _store_uri(args.log_dir), f"http://{args.host}:{args.port}"
    found = links(uri, base)
    print(f"MLflow UI on {base} over {db}; each comparison's runs with their metric columns:")
    for name, n, url in found:
        print(f"  {name:24s} {n:4d} runs  {url}")
    if not found:
        print("  (no runs yet)")
    if args.print_only:
        return 0
    mlflow = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow), "ui", "--backend-store-uri", uri, "--host", args.host,
           "--port", str(args.port), "--workers", "1"]
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
