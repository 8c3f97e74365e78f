"""MLflow tracking for one Hydra job: the run's lifecycle (FINISHED / FAILED with the
traceback / KILLED on Ctrl-C), params, metrics, artifacts, and the skip-finished lookup.

The only module besides run.py/callbacks.py that imports mlflow.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
from mlflow.entities import RunStatus  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

log = logging.getLogger(__name__)

PACKAGES = ("xmr-harness", "numpy", "scipy", "numba", "scikit-learn", "mlflow", "hydra-core",
            "torch")
PARENT_FILE = "mlflow_parent_run.json"  # in the sweep folder: the sweep's parent run


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
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifacts = (Path(log_dir).resolve() / "mlruns").as_uri()
    try:
        return client.create_experiment(name, artifact_location=artifacts)
    except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel job
        return client.get_experiment_by_name(name).experiment_id


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


def find_finished(client: MlflowClient, exp_id: str, cfg_hash: str):
    """A FINISHED run with this config hash, or None."""
    runs = client.search_runs(
        [exp_id], filter_string=f"tags.config_hash = '{cfg_hash}' and "
                                f"attributes.status = 'FINISHED'", max_results=1)
    return runs[0] if runs else None


def _retry(fn, *args, attempts: int = 8, **kwargs):
    """SQLite allows one writer at a time: parallel jobs retry briefly instead of failing."""
    for i in range(attempts):
        try:
            return fn(*args, **kwargs)
        except mlflow.exceptions.MlflowException as exc:
            if "locked" not in str(exc).lower() or i == attempts - 1:
                raise
            time.sleep(0.2 * (i + 1))


class TrackedRun:
    """One MLflow run, ended exactly once with the right status whatever happens."""

    def __init__(self, uri: str, exp_name: str, log_dir: str, run_name: str,
                 tags: dict[str, str], parent_run_id: str | None = None):
        self.client = MlflowClient(tracking_uri=uri)
        self.exp_id = _retry(experiment_id, self.client, exp_name, log_dir)
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
