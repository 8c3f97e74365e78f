"""Faults on real processes (README "When things go wrong"): the exit code, the summary of a
sweep, values the library refuses, an unusable or locked tracking store, Ctrl-C (a real
SIGINT) and SIGKILL in the middle of a sweep, and reruns that complete only what is missing.

No test here asserts a duration: a hang shows as the subprocess timeout, which fails the
test."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")]

REPO = Path(__file__).resolve().parents[2]
# seed=0: the smoke preset also sweeps seeds; one seed keeps these fault tests short
ONE_POINT = ("experiment=smoke", "seed=0", "features=word1", "model.threshold=0.2",
             "eval.beam_size=2")
HARNESS_ENV = {**{k: v for k, v in os.environ.items()
                  if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME",
                               "HYDRA_FULL_ERROR")},
               "MLFLOW_DISABLE_TELEMETRY": "true",
               "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get(
                   "PYTHONPATH")])])}  # as conftest's run_app: nothing from outside
SMOKE_GRID = {(f, t, b) for f in ("word1", "all") for t in ("0.05", "0.2") for b in ("2", "10")}


def _child_runs(client, exp_id):
    runs = client.search_runs([exp_id], max_results=1000)
    return ([r for r in runs if r.data.tags.get("role") != "sweep"],
            [r for r in runs if r.data.tags.get("role") == "sweep"])


def _point(run) -> tuple[str, str, str]:
    p = run.data.params
    return p["features.name"], p["model.threshold"], p["eval.beam_size"]


def _statuses(db: Path) -> list[tuple[str, str]]:
    """(status, role) of every run, read straight from the SQLite file (read-only, no
    MLflow client: polling must not take the writers' lock for long)."""
    if not db.is_file():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(
                "SELECT r.status, COALESCE(t.value, '') FROM runs r LEFT JOIN tags t ON "
                "t.run_uuid = r.run_uuid AND t.key = 'role'").fetchall()
        finally:
            con.close()
    except sqlite3.Error:  # locked or not created yet: ask again
        return []


SLOW_JOBS = ("eval.latency_min_queries=100000", "eval.latency_max_queries=100000")


def _start_sweep(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.run", "-m", "experiment=smoke", "seed=0", *args,
         f"paths.root_dir={root}", f"paths.log_dir={root / 'logs'}",
         f"paths.cache_dir={root / 'cache'}"],
        cwd=root, env=HARNESS_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _wait_for_a_running_job(proc: subprocess.Popen, db: Path, *, finished: int,
                            limit_s: float = 600) -> int:
    """Poll until ``finished`` jobs FINISHED and another job's run is RUNNING; returns how
    many had finished."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the sweep ended before it could be interrupted\n{out[-2000:]}"
                                 f"\n{err[-2000:]}")
        rows = _statuses(db)
        done = sum(1 for s, role in rows if s == "FINISHED" and role != "sweep")
        running = sum(1 for s, role in rows if s == "RUNNING" and role != "sweep")
        if done >= finished and running >= 1:
            return done
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("no job was RUNNING in time")


# ------------------------------------------------------------------------ exit codes
def test_a_failing_single_run_exits_non_zero(tmp_path, run_app, tmp_paths):
    proc = run_app("experiments.run", "logger=none", "data=homedepot",
                   f"paths.data_dir={tmp_path / 'no-data'}", *tmp_paths(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "[run] FAILED: DataNotFoundError: dataset 'homedepot'" in proc.stdout
    [tb] = (tmp_path / "logs" / "runs").glob("*/traceback.txt")
    assert f"(traceback: {tb})" in proc.stdout and "DataNotFoundError" in tb.read_text()
    assert "Traceback" not in proc.stderr  # one line, the traceback is in the file


def test_values_the_library_refuses_stop_the_sweep_before_it_starts(tmp_path, run_app,
                                                                    tmp_paths):
    proc = run_app("experiments.run", "-m", "experiment=smoke", "indexer.nr_splits=3",
                   *tmp_paths(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "indexer: nr_splits must be a power of two >= 2, got 3" in proc.stderr
    # a bad value anywhere in a sweep, not only the first one
    proc = run_app("experiments.run", "-m", "experiment=smoke", "model.threshold=0.1,-0.5",
                   "seed=18446744073709551616", *tmp_paths(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "model: threshold must be >= 0.0, got -0.5" in proc.stderr
    assert "seed: seed must be <= 4294967295, got 18446744073709551616" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "logs" / "mlflow.db").exists()  # nothing ran, nothing logged


# ------------------------------------------------------------------------ tracking store
def test_unreachable_mlflow_server_fails_within_seconds(tmp_path, run_app, tmp_paths):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    proc = run_app("experiments.run", *ONE_POINT, f"logger.tracking_uri='{uri}'",
                   *tmp_paths(tmp_path), cwd=tmp_path, timeout=90)  # MLflow alone: ~4 min
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"the MLflow tracking server {uri} does not answer" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "logs").glob("runs/*/metrics.json"))  # no job ran


def test_a_sqlite_file_that_is_not_an_mlflow_store_is_never_written(tmp_path, run_app,
                                                                    tmp_paths):
    from analysis import load

    db = tmp_path / "notes.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.execute("INSERT INTO notes VALUES ('mine')")
    con.commit()
    con.close()
    before = db.read_bytes()
    proc = run_app("experiments.run", *ONE_POINT, f"logger.tracking_uri='sqlite:///{db}'",
                   *tmp_paths(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"points at {db}, which is a SQLite database of something else (tables: notes)" \
        in proc.stderr and "it is left untouched" in proc.stderr
    with pytest.raises(load.NoRunsError, match="not an MLflow store"):
        load.load_runs(f"sqlite:///{db}")
    text = tmp_path / "plain.db"
    text.write_text("not a database at all\n" * 100)
    with pytest.raises(load.NoRunsError, match="not a SQLite database"):
        load.load_runs(f"sqlite:///{text}")
    assert db.read_bytes() == before


LOCK_HOLDER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
released = time.time()
con.execute("COMMIT")
print(released, flush=True)
"""


def test_a_store_locked_by_another_process_still_records_every_run(tmp_path, run_app,
                                                                   tmp_paths, mlflow_store):
    from mlflow.tracking import MlflowClient

    db = tmp_path / "logs" / "mlflow.db"
    db.parent.mkdir()
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()  # an MLflow store
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(db), "20"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    proc = run_app("experiments.run", "-m", *ONE_POINT[:4], "eval.beam_size=2,10",
                   *tmp_paths(tmp_path), cwd=tmp_path)
    released = float(holder.stdout.readline())
    holder.wait(timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    client, exp_id = mlflow_store(tmp_path / "logs")
    kids, [parent] = _child_runs(client, exp_id)
    assert len(kids) == 2 and {r.info.status for r in kids + [parent]} == {"FINISHED"}
    # the sweep really met the lock: its first run was created after the lock was released
    assert parent.info.start_time >= int(released * 1000) - 1000


# ---------------------------------------------------------------------- interruptions
def test_sigint_kills_the_running_job_and_a_rerun_completes_only_the_rest(tmp_path,
                                                                         mlflow_store):
    db = tmp_path / "logs" / "mlflow.db"
    # each job times 100k single requests (seconds), so the signal, sent as soon as a job's
    # run is RUNNING, lands inside that job and not in the gap between two jobs
    proc = _start_sweep(tmp_path, *SLOW_JOBS)
    done = _wait_for_a_running_job(proc, db, finished=2)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-2000:] + err[-2000:]
    assert "interrupted" in err and "rerun the same command" in err
    client, exp_id = mlflow_store(tmp_path / "logs")
    kids, [parent] = _child_runs(client, exp_id)
    assert parent.info.status == "KILLED"
    killed = [r for r in kids if r.info.status == "KILLED"]
    finished = [r for r in kids if r.info.status == "FINISHED"]
    assert len(killed) == 1 and len(finished) >= done
    assert {r.info.status for r in kids} == {"FINISHED", "KILLED"}  # nothing left RUNNING

    rerun = subprocess.run(proc.args, cwd=tmp_path, env=HARNESS_ENV, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert (f"8 jobs, {8 - len(finished)} finished, 0 failed, {len(finished)} skipped"
            in rerun.stdout)
    kids, _ = _child_runs(client, exp_id)
    assert {_point(r) for r in kids if r.info.status == "FINISHED"} == SMOKE_GRID
    assert len([r for r in kids if r.info.status == "FINISHED"]) == 8  # none run twice


def test_a_sigkilled_sweep_does_not_stay_running_after_the_next_sweep(tmp_path,
                                                                      mlflow_store):
    db = tmp_path / "logs" / "mlflow.db"
    proc = _start_sweep(tmp_path, "features=word1", *SLOW_JOBS)  # the kill lands in a job
    _wait_for_a_running_job(proc, db, finished=1)
    proc.kill()  # SIGKILL: no handler, no atexit, nothing ends the runs
    proc.wait(timeout=60)
    assert sum(1 for s, _ in _statuses(db) if s == "RUNNING") == 2  # the parent and a job

    rerun = subprocess.run(proc.args, cwd=tmp_path, env=HARNESS_ENV, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    client, exp_id = mlflow_store(tmp_path / "logs")
    runs = client.search_runs([exp_id], max_results=100)
    assert "RUNNING" not in {r.info.status for r in runs}
    stale = [r for r in runs if r.info.status == "KILLED"]
    assert len(stale) == 2
    for r in stale:
        assert r.data.tags["xmr.ended_by"].startswith(f"stale: process {proc.pid} ")
        assert r.data.tags["xmr.pid"] == str(proc.pid)


# ---------------------------------------------------------------------- the summary
def test_sweep_summary_names_each_failure_and_its_traceback(tmp_path, run_app, tmp_paths):
    proc = run_app("experiments.run", "-m", *ONE_POINT, "logger=none",
                   "data.options.size=tiny,nope", *tmp_paths(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    [sweep] = (tmp_path / "logs" / "multiruns").iterdir()
    summary = json.loads((sweep / "sweep_summary.json").read_text())
    assert (summary["n_jobs"], summary["n_finished"], summary["n_failed"]) == (2, 1, 1)
    [failed] = summary["failed"]
    assert failed["job_dir"] == str(sweep / "1") and "'nope'" in failed["error"]
    assert Path(failed["traceback"]).read_text().startswith("Traceback")
    assert f"FAILED  {sweep / '1'}: ValueError" in proc.stdout
    assert f"traceback: {sweep / '1' / 'traceback.txt'}" in proc.stdout
    assert "exit code 1: 1 of 2 jobs did not finish" in proc.stdout
