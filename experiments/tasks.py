"""The per-task table of the one job path (:mod:`experiments.job`): how a task builds its
inputs, evaluates a trained runner and names its runs. The models of each task are the
runners registered under it (:data:`experiments.models.RUNNERS`); the data loads the same way
for every task (:func:`experiments.job.load_data`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig

from experiments import build
from experiments.qac_job import evaluate_qac
from experiments.sweep_table import PRIMARY_METRIC
from experiments.xmr_job import evaluate_xmr


@dataclass(frozen=True)
class Task:
    featurizer: Callable[[DictConfig], object]  # the (unfitted) input pipeline
    evaluate: Callable[..., object]  # (runner, dataset, Inference, eval, trained=) → JobResult
    headline: str  # the metric a sweep optimises (the Hydra return value)
    quality: tuple[tuple[str, str], ...]  # (label, metric) printed after each job
    point: Callable[[DictConfig], str]  # the grid point, for the job's log lines
    run_name: Callable[[DictConfig], str]  # the MLflow run name unless logger.run_name
    tags: Callable[[DictConfig], dict[str, str]] = lambda cfg: {}


def _threshold(cfg: DictConfig):
    return cfg.model.get("threshold")


TASKS: dict[str, Task] = {
    "xmr": Task(
        featurizer=build.featurizer, evaluate=evaluate_xmr, headline=PRIMARY_METRIC["xmr"],
        quality=(("recall@10", "recall_at_10"), ("P@1", "precision_at_1")),
        point=lambda cfg: (f"data={cfg.data.name} features={cfg.features.name} "
                           f"model={cfg.model.name} threshold={_threshold(cfg)} "
                           f"beam={cfg.eval.beam_size}"),
        run_name=lambda cfg: (f"{cfg.data.name}-{cfg.model.name}-{cfg.features.name}"
                              f"-t{_threshold(cfg)}-b{cfg.eval.beam_size}")),
    "qac": Task(
        featurizer=build.qac_vectorizer, evaluate=evaluate_qac, headline=PRIMARY_METRIC["qac"],
        quality=(("MRR@10", "mrr_at_10"), ("BLEU", "bleu")),
        point=lambda cfg: (f"data={cfg.data.name} row={cfg.qac_row} "
                           f"features={cfg.features.name} indexer={cfg.indexer.name} "
                           f"model={cfg.model.name}"),
        run_name=lambda cfg: (f"{cfg.data.name}-qac{cfg.qac_row}-{cfg.model.name}"
                              f"-{cfg.indexer.name}"),
        tags=lambda cfg: {"qac_row": str(cfg.qac_row)}),
}


def get_task(cfg: DictConfig) -> Task:
    if cfg.task not in TASKS:
        raise ValueError(f"task={cfg.task} is unknown; known: {sorted(TASKS)}")
    return TASKS[cfg.task]
