"""``model.shards=N``: XR-Linear trained by shards (:mod:`xmr.sharded`), the sweep's launcher
as the engine.

- ``hydra/launcher=slurm`` (submitit): every shard task is its own SLURM job, submitted from
  the training job with the launcher's partition, time limit, CPUs and memory; the tasks'
  files go in the job's output folder (a shared filesystem, as the sweep needs anyway);
- any other launcher (basic, joblib): ``model.shard_workers`` local worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from xmr import XRLinear
from xmr.sharded import JoblibEngine, fit_sharded


class SubmititEngine:
    """Each task is one SLURM job (submitit), with the sweep launcher's resources."""

    def __init__(self, folder: Path, launcher: DictConfig):
        import submitit

        self.threads_per_task = int(launcher.get("cpus_per_task") or 1)
        self.executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
        params = {"slurm_partition": launcher.get("partition"),
                  "timeout_min": launcher.get("timeout_min"),
                  "cpus_per_task": self.threads_per_task,
                  "mem_gb": launcher.get("mem_gb"), "name": "xmr-shard"}
        self.executor.update_parameters(**{k: v for k, v in params.items() if v is not None})
        self.job_ids: list[str] = []

    def map(self, fn: Callable, arglists: Sequence[tuple]) -> list:
        jobs = self.executor.map_array(fn, *zip(*arglists, strict=True))
        self.job_ids = [j.job_id for j in jobs]
        return [j.result() for j in jobs]


def _launcher() -> DictConfig | None:
    return HydraConfig.get().launcher if HydraConfig.initialized() else None


def engine_for(cfg: DictConfig):
    """The engine of this job's launcher (see the module docstring)."""
    launcher = _launcher()
    if launcher is not None and str(launcher.get("_target_", "")).endswith("SlurmLauncher"):
        return SubmititEngine(Path(cfg.paths.output_dir) / "shards" / "submitit", launcher)
    return JoblibEngine(n_workers=cfg.model.shard_workers)


def engine_name(engine) -> str:
    return "slurm" if isinstance(engine, SubmititEngine) else "joblib"


def fit(cfg: DictConfig, model: XRLinear, X, Y) -> tuple[XRLinear, dict[str, str]]:
    """``model`` trained by ``cfg.model.shards`` shards with this job's engine; the tags
    that say how (engine, split depth, tasks, their SLURM job ids)."""
    engine = engine_for(cfg)
    fit_sharded(model, X, Y, n_shards=int(cfg.model.shards), engine=engine,
                workdir=Path(cfg.paths.output_dir) / "shards")
    rep = model.shard_report_
    tags = {"shard_engine": engine_name(engine), "shard_split_depth": str(rep["split_depth"]),
            "shard_tasks": str(len(rep["tasks"])),
            "shard_task_hosts": ",".join(sorted({t["host"] for t in rep["tasks"]}))}
    ids = [t["slurm_job_id"] for t in rep["tasks"] if t["slurm_job_id"]]
    if ids:
        tags["shard_slurm_job_ids"] = ",".join(ids)
    return model, tags
