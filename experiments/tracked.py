"""The MLflow side of one job, as one object wrapped around it (:class:`JobTracker`): the
store opened once, the skip-finished lookup, the run under its sweep's parent with its tags,
MLflow's system metrics, what the job logs, and the run ended exactly once with its status.
:func:`open_experiment` is the one place a job or a sweep opens the store."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from experiments import mlflow_ui, tracking
from experiments.code_version import code_version
from experiments.datacache import config_hash
from experiments.spec import JobSpec

log = logging.getLogger(__name__)


def open_experiment(configured_uri: str | None, name: str, log_dir: str,
                    preset: str | None) -> tuple[object, str, str]:
    """(client, experiment id, tracking URI) of a checked store, the experiment created and
    tagged if new (:func:`tracking.open_store`, :func:`mlflow_ui.ensure_experiment`)."""
    uri = tracking.tracking_uri(configured_uri, log_dir)
    client, _ = tracking.open_store(uri, name, log_dir)
    return client, mlflow_ui.ensure_experiment(client, name, log_dir, preset=preset), uri


class JobTracker:
    """One job's MLflow run. ``JobTracker(spec, sweep_dir)`` opens the store; then either
    :meth:`finished` finds the grid point already done, or :meth:`start` creates the run,
    the ``log_*`` methods fill it and :meth:`end` ends it."""

    def __init__(self, spec: JobSpec, sweep_dir: Path | None):
        t = spec.tracking
        self.spec, self.sweep_dir = spec, sweep_dir
        self.client, self.exp_id, self.uri = open_experiment(t.uri, t.experiment, t.log_dir,
                                                             t.preset)
        if sweep_dir is None:  # a sweep's callback does these once for all its jobs
            tracking.end_stale_runs(self.client, self.exp_id)
            mlflow_ui.ensure_view(self.client, self.exp_id, spec.task.name, [])
        self.run: tracking.TrackedRun | None = None
        self._monitor = None

    def finished(self):
        """A FINISHED run of the same grid point by the same code (``logger.skip_finished``),
        or None."""
        if not self.spec.tracking.skip_finished:
            return None
        return tracking.find_finished(self.client, self.exp_id, self.spec.config_hash,
                                      code_version())

    def start(self, out_dir: Path) -> None:
        spec, sweep_dir = self.spec, self.sweep_dir
        parent = None
        if sweep_dir is not None and (sweep_dir / tracking.PARENT_FILE).is_file():
            parent = json.loads((sweep_dir / tracking.PARENT_FILE).read_text())["run_id"]
        tags = {"config_hash": spec.config_hash, "code_version": code_version(), **spec.names,
                "sweep_id": sweep_dir.name if sweep_dir is not None else "",
                "output_dir": str(out_dir.resolve()), "role": mlflow_ui.GRID_POINT_ROLE,
                **mlflow_ui.source_tags(tracking.git_commit()),
                mlflow_ui.mlflow_tags.MLFLOW_RUN_NOTE: spec.description}
        if os.environ.get("SLURM_JOB_ID"):  # where the run ran, on a SLURM cluster
            tags |= {"slurm_job_id": os.environ["SLURM_JOB_ID"],
                     "slurm_node": os.environ.get("SLURMD_NODENAME", "")}
        t = spec.tracking
        self.run = tracking.TrackedRun(self.uri, t.experiment, t.log_dir, spec.run_name, tags,
                                       parent)
        if t.system_metrics:
            self._monitor = mlflow_ui.start_system_metrics(self.run.run_id, self.uri,
                                                           t.system_metrics_interval_s)

    def log_inputs(self, card: dict) -> None:
        """The run's datasets, logged as soon as they are loaded (even if training fails)."""
        self.run.log_inputs(mlflow_ui.dataset_inputs(self.spec.data.data_dir, card,
                                                     config_hash(card)))

    def log_result(self, result, card: dict, hit: bool, out_dir: Path,
                   files: list[str]) -> None:
        run = self.run
        run.log_params(self.spec.params | {"git_commit": tracking.git_commit()}
                       | tracking.package_versions()
                       | {"dataset_card_hash": config_hash(card)} | result.params)
        run.log_metrics(result.metrics)
        run.set_tags(result.tags | {"dataset_cache_hit": str(hit).lower()})
        for name in ("config.yaml", "metrics.json", "dataset_card.json", *files):
            run.log_artifact(out_dir / name)

    def log_failure(self, traceback_text: str) -> None:
        try:
            self.run.log_text(traceback_text, "traceback.txt")
            self.run.log_params(self.spec.params)
        except Exception:  # noqa: BLE001 - the FAILED status matters more
            log.exception("could not log the failure details to MLflow")

    def end(self, error: BaseException | None) -> None:
        """FINISHED, FAILED (``error``) or KILLED (a KeyboardInterrupt), exactly once."""
        if self._monitor is not None:
            self._monitor.finish()
        if self.run is not None:
            try:
                self.run.end(tracking.end_status(error))
            except Exception:  # noqa: BLE001 - the next sweep marks a run left RUNNING
                log.exception("could not end the MLflow run")
