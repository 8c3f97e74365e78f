"""`python -m experiments.run [overrides]` / `-m experiment=NAME` for a sweep.

prepare data (cached) → featurize → index → train (cached per training config) → predict →
evaluate → log, the same path for both tasks (experiments/job.py, experiments/tasks.py). One
Hydra job = one MLflow run = one metrics.json. Returns the headline metric (recall@10 for
product retrieval, MRR@10 for autocompletion).

The exit code tells the truth (:mod:`experiments.outcome`): 0 every job finished or was
skipped, 1 a job failed (the sweep still ran the others), 2 nothing ran (bad overrides or
values, unusable tracking store), 130 interrupted (runs KILLED; rerun to complete).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from experiments import outcome
from experiments.overrides import check_overrides_or_exit, composed_or_none
from experiments.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from experiments.job import run_job

    return run_job(cfg)


def check_tracking_or_exit(argv: list[str]) -> None:
    """An unusable tracking store (server down, not an MLflow database) stops the command
    before any job runs, with the URI in the message (exit 2)."""
    cfg = composed_or_none(argv)
    if cfg is None or cfg.logger.name != "mlflow":
        return
    from experiments import tracking

    try:
        tracking.check_store(tracking.tracking_uri(cfg.logger.tracking_uri, cfg.paths.log_dir))
    except outcome.HarnessError as exc:
        outcome.fail(str(exc))


def cli() -> None:
    check_overrides_or_exit()
    check_tracking_or_exit(sys.argv[1:])
    outcome.install_signal_handlers()
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: the running job's MLflow run is KILLED, finished jobs are kept; "
              "rerun the same command to complete only the missing grid points",
              file=sys.stderr, flush=True)
        sys.exit(outcome.EXIT_INTERRUPTED)
    sys.exit(outcome.current().exit_code())


if __name__ == "__main__":
    cli()
