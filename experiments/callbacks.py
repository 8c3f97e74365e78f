"""Hydra callback that groups a multirun under one MLflow parent run and prints its summary:
runs, failures (with each traceback file), skipped grid points, how many trainings actually
happened, the table of grid points with their headline metrics and the link to the runs in the
MLflow UI; the entry point turns it into the exit code (:mod:`experiments.outcome`)."""

from __future__ import annotations

import atexit
import json
import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from experiments.sweep_table import format_table, sweep_rows, swept_keys

log = logging.getLogger(__name__)


class SweepCallback(Callback):
    def __init__(self):
        self.parent = None
        self.sweep_dir: Path | None = None
        self.keys: list[str] = []
        self.exp_id: str | None = None
        self.uri = ""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        self.keys = swept_keys(config.hydra)
        if config.logger.name != "mlflow":
            return
        from experiments import mlflow_ui, outcome, tracking
        from experiments.spec import experiment_name
        from experiments.tracked import open_experiment

        exp_name = experiment_name(config)
        preset = config.get("experiment_name")
        name = f"sweep-{preset or 'adhoc'}-{self.sweep_dir.name}"
        try:
            client, self.exp_id, uri = open_experiment(config.logger.tracking_uri, exp_name,
                                                       config.paths.log_dir, preset)
            self.uri = uri
            tracking.end_stale_runs(client, self.exp_id)  # runs of SIGKILLed sweeps left RUNNING
            mlflow_ui.ensure_view(client, self.exp_id, config.task, self.keys)
            self.parent = tracking.TrackedRun(
                uri, exp_name, config.paths.log_dir, name,
                {"sweep_id": self.sweep_dir.name, "experiment": str(preset), "role": "sweep",
                 **mlflow_ui.source_tags(tracking.git_commit()),
                 mlflow_ui.mlflow_tags.MLFLOW_RUN_NOTE:
                     f"Sweep of `{preset or 'adhoc'}` over {', '.join(self.keys) or 'nothing'}: "
                     "one child run per grid point."})
        except outcome.HarnessError as exc:  # nothing ran yet: say why, exit 2
            outcome.fail(str(exc))
        (self.sweep_dir / tracking.PARENT_FILE).write_text(
            json.dumps({"run_id": self.parent.run_id, "tracking_uri": uri}))
        atexit.register(self._kill_if_open)  # Ctrl-C: no parent left RUNNING

    def _kill_if_open(self) -> None:
        if self.parent is not None:
            self.parent.end("KILLED")

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if self.sweep_dir is None:
            return
        from experiments import outcome

        result = outcome.sweep_outcome(self.sweep_dir)
        outcome.record_sweep(result)
        summary = {"n_jobs": result.n_jobs, "n_finished": len(result.finished),
                   "n_failed": len(result.failed) + len(result.missing),
                   "n_skipped": len(result.skipped), "n_trainings": result.trainings}
        (self.sweep_dir / "sweep_summary.json").write_text(json.dumps(
            summary | {"failed": [{"job_dir": str(d), "error": e,
                                   "traceback": str(d / "traceback.txt")}
                                  for d, e in result.failed],
                       "no_result": [str(d) for d in result.missing]}, indent=2))
        if self.parent is not None:
            self.parent.log_metrics({k: float(v) for k, v in summary.items()})
            self.parent.end("FAILED" if summary["n_failed"] else "FINISHED")
        print(f"\n{format_table(sweep_rows(self.sweep_dir, self.keys), self.keys)}\n",
              flush=True)
        print(f"sweep done: {result.n_jobs} jobs, {summary['n_finished']} finished, "
              f"{summary['n_failed']} failed, {summary['n_skipped']} skipped (already "
              f"finished), {result.trainings} trainings — outputs in {self.sweep_dir}",
              flush=True)
        if summary["n_failed"]:
            print("\n".join(result.failure_lines()), flush=True)
            print(f"exit code {result.exit_code()}: {summary['n_failed']} of {result.n_jobs} "
                  f"jobs did not finish; rerun the same command to retry only those",
                  flush=True)
        if self.parent is not None:
            from experiments.mlflow_ui import DEFAULT_UI, runs_url

            server = self.uri if self.uri.startswith(("http://", "https://")) else None
            print(f"browse the runs: {'open' if server else 'make ui, then open'} "
                  f"{runs_url(self.exp_id, server or DEFAULT_UI)}", flush=True)
