"""`python -m experiments.run [overrides]` / `-m experiment=NAME` for a sweep.

prepare data (cached) → featurize → index → train (cached per training config) → predict →
evaluate → log, the same path for both tasks (experiments/job.py, experiments/tasks.py). One
Hydra job = one MLflow run = one metrics.json. Returns the headline metric (recall@10 for
product retrieval, MRR@10 for autocompletion).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from experiments.overrides import check_overrides_or_exit
from experiments.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from experiments.job import run_job

    return run_job(cfg)


if __name__ == "__main__":
    check_overrides_or_exit()
    main()
