"""MLflow tracking for one Hydra job: the run's lifecycle (FINISHED / FAILED with the
traceback / KILLED on Ctrl-C), params, metrics, artifacts, and the skip-finished lookup.

Faults of the store are handled here, in one place (README "When things go wrong"):

- :func:`check_store` before anything is written: an MLflow server that does not answer
  fails within seconds naming the URI (not minutes of MLflow's HTTP retries); a SQLite file
  that is not an MLflow store is refused, never written into.
- :func:`_retry`: SQLite allows one writer at a time; every store call (opening the store
  included) retries "database is locked" with backoff for up to ``XMR_SQLITE_LOCK_WAIT_S``
  seconds, then fails naming the store.
- :func:`end_stale_runs`: a run whose process was SIGKILLed (or lost its machine) stays
  RUNNING; each run records its host, pid and process start time, and the next sweep on the
  same store ends such runs as KILLED.

The only module besides run.py/callbacks.py that imports mlflow.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# a server that goes away mid-sweep: a few quick retries (~15 s), not MLflow's ~4 minutes
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")

import mlflow  # noqa: E402
import sqlalchemy.exc  # noqa: E402
from mlflow.entities import RunStatus  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from experiments.outcome import HarnessError, deferred_signals  # noqa: E402

log = logging.getLogger(__name__)

PACKAGES = ("xmr-harness", "numpy", "scipy", "numba", "scikit-learn", "mlflow", "hydra-core",
            "torch")
PARENT_FILE = "mlflow_parent_run.json"  # in the sweep folder: the sweep's parent run
SERVER_CHECK_TIMEOUT_S = 5.0  # an MLflow server that does not answer /health in this is down
LOCK_WAIT_S = float(os.environ.get("XMR_SQLITE_LOCK_WAIT_S", "120"))  # total, per store call
MLFLOW_TABLES = {"experiments", "runs", "alembic_version"}
# tags each run carries so a later sweep can tell whether its process is still alive
HOST_TAG, PID_TAG, PID_START_TAG = "xmr.host", "xmr.pid", "xmr.pid_start"


class TrackingError(HarnessError):
    """The tracking store cannot be used; the message names it and says what to do."""


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///path`` URI; None for other schemes/in-memory."""
    if not uri.startswith("sqlite:///"):
        return None
    path = unquote(uri[len("sqlite:///"):].split("?", 1)[0])
    return None if path in ("", ":memory:") else Path(path)


def check_store(uri: str) -> None:
    """Refuse a store that cannot work, before anything is written to it: an HTTP(S) server
    that does not answer within seconds, or a SQLite file that is not an MLflow store.
    Raises :class:`TrackingError` naming the URI."""
    if uri.startswith(("http://", "https://")):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=SERVER_CHECK_TIMEOUT_S) as resp:
                resp.read(64)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TrackingError(
                f"the MLflow tracking server {uri} does not answer ({url}: {reason}); start it "
                f"(mlflow server --host ... --port ...), or point logger.tracking_uri / "
                f"$MLFLOW_TRACKING_URI at a reachable store, or run with logger=none") from exc
        return
    db = sqlite_path(uri)
    if db is None or not db.is_file() or db.stat().st_size == 0:
        return  # a new store: MLflow creates its tables
    tables = _sqlite_tables(db)
    if tables is None:  # locked right now: the retries of the real calls handle it
        return
    if isinstance(tables, str) or (tables and not MLFLOW_TABLES & tables):
        what = (f"not a SQLite database ({tables})" if isinstance(tables, str) else
                f"a SQLite database of something else (tables: {', '.join(sorted(tables)[:8])})")
        raise TrackingError(
            f"the tracking URI {uri} points at {db}, which is {what}, not an MLflow store; "
            f"it is left untouched. Point logger.tracking_uri / $MLFLOW_TRACKING_URI at an "
            f"MLflow store (default: sqlite:///<paths.log_dir>/mlflow.db)")


def _sqlite_tables(db: Path) -> set[str] | str | None:
    """The table names of a SQLite file, read-only; an error text if it is no database;
    None if it is locked."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
        try:
            rows = con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        return None if "locked" in str(exc).lower() else str(exc)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return {r[0] for r in rows}


def _is_locked(exc: BaseException) -> bool:
    return "locked" in str(exc).lower() or "busy" in str(exc).lower()


def _retry(fn, *args, wait_s: float | None = None, **kwargs):
    """SQLite allows one writer at a time: parallel jobs and other processes holding the
    store retry with backoff (up to ``wait_s``, default LOCK_WAIT_S, in total) instead of
    failing; then a :class:`TrackingError` names the store."""
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    delay = 0.2
    while True:
        try:
            with deferred_signals():  # an interrupt waits for the write, not the backoff
                return fn(*args, **kwargs)
        except (mlflow.exceptions.MlflowException, sqlalchemy.exc.OperationalError) as exc:
            if not _is_locked(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise TrackingError(
                    f"the MLflow store stayed locked by another process for {wait_s:.0f} s "
                    f"({str(exc).splitlines()[0][:200]}); close what holds it (an open "
                    f"`sqlite3` shell, a stuck process), raise XMR_SQLITE_LOCK_WAIT_S, or use "
                    f"an MLflow server for many parallel writers") from exc
            log.info("MLflow store locked, retrying in %.1f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _process_start(pid: int) -> str:
    """The start time of a process (clock ticks since boot, /proc), "" if unknown: with
    the pid it identifies the process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def process_tags() -> dict[str, str]:
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), PID_START_TAG: _process_start(pid)}


def _process_gone(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return bool(start) and _process_start(pid) not in ("", start)  # pid reused


def end_stale_runs(client: MlflowClient, exp_id: str) -> list[str]:
    """End as KILLED the RUNNING runs of this experiment whose process (on this host) is
    gone — SIGKILLed, OOM-killed, or its machine rebooted. Runs of other hosts are left
    alone (nothing here can tell whether they still run). Returns their ids."""
    host = socket.gethostname()
    runs = _retry(client.search_runs, [exp_id], filter_string="attributes.status = 'RUNNING'",
                  max_results=10_000)
    ended = []
    for run in runs:
        tags = run.data.tags
        if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit():
            continue
        if _process_gone(int(tags[PID_TAG]), tags.get(PID_START_TAG, "")):
            _retry(client.set_tag, run.info.run_id, "xmr.ended_by",
                   f"stale: process {tags[PID_TAG]} on {host} was gone; marked KILLED by a "
                   f"later run")
            _retry(client.set_terminated, run.info.run_id, status="KILLED")
            ended.append(run.info.run_id)
    if ended:
        log.warning("marked %d RUNNING runs whose process is gone as KILLED: %s", len(ended),
                    ", ".join(ended))
    return ended


def client_for(uri: str) -> MlflowClient:
    """An MLflow client; creating one opens the store (MLflow checks its schema), which a
    process holding the SQLite lock can block, so it is retried like every other call."""
    return _retry(MlflowClient, tracking_uri=uri)


def open_store(uri: str, exp_name: str, log_dir: str) -> tuple[MlflowClient, str]:
    """(client, experiment id) of a checked store (see :func:`check_store`)."""
    check_store(uri)
    client = client_for(uri)
    return client, experiment_id(client, exp_name, log_dir)


def tracking_uri(configured: str | None, log_dir: str) -> str:
    """``logger.tracking_uri``, else $MLFLOW_TRACKING_URI, else SQLite under log_dir."""
    if configured:
        return configured
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    path = Path(log_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'mlflow.db'}"


def experiment_id(client: MlflowClient, name: str, log_dir: str) -> str:
    exp = _retry(client.get_experiment_by_name, name)
    if exp is not None:
        return exp.experiment_id
    # a local store keeps artifacts beside it; a tracking server stores (and serves) them
    # itself: a local path would leave them on whichever node the job ran on
    remote = urlparse(client.tracking_uri).scheme in ("http", "https")
    artifacts = None if remote else (Path(log_dir).resolve() / "mlruns").as_uri()
    try:
        return _retry(client.create_experiment, name, artifact_location=artifacts)
    except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel job
        return _retry(client.get_experiment_by_name, name).experiment_id


def git_commit(root: str | Path | None = None) -> str:
    """The commit of the code that runs (this repository, wherever the command is launched
    from), with ``-dirty`` when tracked files changed; "unknown" outside a git checkout."""
    root = Path(__file__).resolve().parent.parent if root is None else root
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        return commit + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[f"version.{name}"] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def find_finished(client: MlflowClient, exp_id: str, cfg_hash: str, code: str):
    """A FINISHED run with this config hash made by this code version (tag
    ``code_version``), or None: a point finished by other code runs again."""
    runs = _retry(client.search_runs,
                  [exp_id], filter_string=f"tags.config_hash = '{cfg_hash}' and "
                                          f"tags.code_version = '{code}' and "
                                          f"attributes.status = 'FINISHED'", max_results=1)
    return runs[0] if runs else None


class TrackedRun:
    """One MLflow run, ended exactly once with the right status whatever happens."""

    def __init__(self, uri: str, exp_name: str, log_dir: str, run_name: str,
                 tags: dict[str, str], parent_run_id: str | None = None):
        self.client = client_for(uri)
        self.exp_id = experiment_id(self.client, exp_name, log_dir)
        tags = {**tags, **process_tags()}
        if parent_run_id:
            tags = {**tags, "mlflow.parentRunId": parent_run_id}
        self.run = _retry(self.client.create_run, self.exp_id, run_name=run_name, tags=tags)
        self.run_id = self.run.info.run_id
        self._ended = False

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            _retry(self.client.log_batch, self.run_id, params=items[i:i + 100])

    def log_metrics(self, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None]
        _retry(self.client.log_batch, self.run_id, metrics=items)

    def set_tags(self, tags: dict[str, str]) -> None:
        for k, v in tags.items():
            _retry(self.client.set_tag, self.run_id, k, str(v))

    def log_artifact(self, path: Path, subdir: str | None = None) -> None:
        _retry(self.client.log_artifact, self.run_id, str(path), subdir)

    def log_inputs(self, datasets: list) -> None:
        """MLflow datasets (``mlflow.entities.DatasetInput``) the run read. Parallel jobs
        (joblib, SLURM) reading the same data race to insert the same dataset row; the loser
        gets a UNIQUE-constraint error, and its retry finds the row and links to it."""
        for attempt in range(5):
            try:
                return _retry(self.client.log_inputs, self.run_id, datasets=datasets)
            except (mlflow.exceptions.MlflowException, sqlalchemy.exc.IntegrityError) as exc:
                if "UNIQUE constraint failed" not in str(exc) or attempt == 4:
                    raise
                log.info("dataset logged meanwhile by a parallel job; linking to it")
                time.sleep(0.2 * (attempt + 1))

    def log_text(self, text: str, name: str) -> None:
        _retry(self.client.log_text, self.run_id, text, name)

    def end(self, status: str) -> None:
        if not self._ended:
            _retry(self.client.set_terminated, self.run_id, status=status)
            self._ended = True


def end_status(exc: BaseException | None) -> str:
    if exc is None:
        return RunStatus.to_string(RunStatus.FINISHED)
    if isinstance(exc, KeyboardInterrupt):
        return RunStatus.to_string(RunStatus.KILLED)
    return RunStatus.to_string(RunStatus.FAILED)
