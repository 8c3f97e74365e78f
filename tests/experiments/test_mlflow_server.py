"""A parallel sweep against a real MLflow tracking server over HTTP: ``mlflow server``
(SQLite backend, local artifact root, artifacts served by the server) on a free localhost
port, two joblib processes logging through ``MLFLOW_TRACKING_URI=http://…``; every run and
every artifact must arrive at the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.experiments.test_run import (
    ARTIFACTS,
    METRICS,
    SMOKE_GRID_SEED0,
    assert_ok,
    children,
    grid_point,
    parents,
    summary,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")]

MLFLOW = Path(sys.executable).with_name("mlflow")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited ({proc.returncode}):\n"
                               f"{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"mlflow server not healthy after {timeout} s:\n"
                       f"{log.read_text()[-3000:]}")


@pytest.fixture
def mlflow_server(tmp_path):
    """(url, server folder): a tracking server in its own process group, stopped after."""
    if not MLFLOW.exists():
        pytest.skip(f"no mlflow executable beside {sys.executable}")
    folder = tmp_path / "server"
    folder.mkdir()
    port = free_port()
    log = folder / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
             "--artifacts-destination", (folder / "artifacts").as_uri()],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url, folder
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its worker processes
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_parallel_sweep_logs_everything_to_the_server(mlflow_server, tmp_path, run_app,
                                                      tmp_paths):
    from mlflow.tracking import MlflowClient

    url, server_dir = mlflow_server
    root = tmp_path / "sweep"
    root.mkdir()
    proc = run_app("experiments.run", "-m", "experiment=smoke", "seed=0", "hydra/launcher=joblib",
                   "hydra.launcher.n_jobs=2", *tmp_paths(root), cwd=root,
                   env={"MLFLOW_TRACKING_URI": url}, timeout=600)
    assert_ok(proc)
    assert summary(proc.stdout) == {"jobs": 8, "finished": 8, "failed": 0, "skipped": 0,
                                    "trainings": 2}
    assert not (root / "logs" / "mlflow.db").exists()  # nothing went to a local store
    assert not (root / "logs" / "mlruns").exists()

    client = MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name("smoke")  # one experiment per preset
    assert exp.artifact_location.startswith("mlflow-artifacts:")  # served by the server
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    [parent] = parents(runs)
    kids = children(runs, parent.info.run_id)
    assert len(runs) == 9 and len(kids) == 8
    assert all(r.info.status == "FINISHED" for r in runs)
    assert {grid_point(r) for r in kids} == SMOKE_GRID_SEED0
    assert len({len(r.data.params) for r in kids}) == 1  # no param lost
    for r in kids:
        assert set(METRICS) <= set(r.data.metrics)
        names = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert ARTIFACTS <= names, f"run {r.info.run_id} lacks {ARTIFACTS - names}"
        # the artifact's bytes came through the server and match what the run logged
        got = Path(client.download_artifacts(r.info.run_id, "metrics.json",
                                             str(tmp_path / r.info.run_id)))
        logged = json.loads(got.read_text())
        assert logged["recall_at_10"] == pytest.approx(r.data.metrics["recall_at_10"])
    # and they are stored on the server's side, one folder per run
    stored = {p.parent.parent.name for p in (server_dir / "artifacts").rglob("metrics.json")}
    assert {r.info.run_id for r in kids} <= stored
