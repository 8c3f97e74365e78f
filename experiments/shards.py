"""``model.shards=N``: XR-Linear trained by shards (:mod:`xmr.sharded`), the sweep's launcher
as the engine.

- ``hydra/launcher=slurm`` (submitit): every shard task is its own SLURM job, submitted from
  the training job with the launcher's partition, time limit, CPUs and memory; the tasks'
  files go in the job's output folder (a shared filesystem, as the sweep needs anyway);
- any other launcher (basic, joblib): ``model.shard_workers`` local worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from xmr import XRLinear
from xmr.params import XRLinearParams
from xmr.sharded import JoblibEngine, fit_sharded


@dataclass
class ShardedXRLinearParams(XRLinearParams):
    """:class:`~xmr.XRLinear` in the harness: its parameters, and how its training is split
    (the model does not depend on it)."""

    shards: int = 1  # != 1: train by this many subtree tasks (xmr.sharded), the launcher as
    # the engine (SLURM jobs under hydra/launcher=slurm, else local processes); same model
    shard_workers: int = 2  # local worker processes for the shard tasks (not on SLURM)


SHARDING = ("shards", "shard_workers")  # the fields above that XRLinear does not take


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

    def map(self, fn: Callable, arglists: Sequence[tuple]) -> list:
        jobs = self.executor.map_array(fn, *zip(*arglists, strict=True))
        return [j.result() for j in jobs]


def _hydra() -> tuple[DictConfig | None, Path | None]:
    """(the launcher's config, this job's output folder), or Nones outside a Hydra job."""
    if not HydraConfig.initialized():
        return None, None
    hc = HydraConfig.get()
    return hc.launcher, Path(hc.runtime.output_dir)


def engine_for(n_workers: int):
    """The engine of this job's launcher (see the module docstring)."""
    launcher, out = _hydra()
    if launcher is not None and str(launcher.get("_target_", "")).endswith("SlurmLauncher"):
        return SubmititEngine(out / "shards" / "submitit", launcher)
    return JoblibEngine(n_workers=n_workers)


def fit(model: XRLinear, X, Y, *, tree, n_shards: int, n_workers: int) -> XRLinear:
    """``model`` trained by ``n_shards`` shards on ``tree`` with this job's engine."""
    engine = engine_for(n_workers)
    _, out = _hydra()
    fit_sharded(model, X, Y, n_shards=n_shards, engine=engine, tree=tree,
                workdir=None if out is None else out / "shards")
    model.shard_engine_ = "slurm" if isinstance(engine, SubmititEngine) else "joblib"
    return model


def keep_report(trained: XRLinear, pruned: XRLinear) -> XRLinear:
    """``pruned`` (re-pruned from ``trained``) with the record of how ``trained`` was
    sharded, so the run that trained it still says how."""
    for attr in ("shard_report_", "shard_engine_"):
        if hasattr(trained, attr):
            setattr(pruned, attr, getattr(trained, attr))
    return pruned


def tags(model: XRLinear) -> dict[str, str]:
    """How a model trained in this process was sharded (nothing for one-process training
    or a model loaded from the cache): engine, split depth, tasks, their SLURM job ids."""
    rep = getattr(model, "shard_report_", None)
    if rep is None:
        return {}
    out = {"shard_engine": model.shard_engine_, "shard_split_depth": str(rep["split_depth"]),
           "shard_tasks": str(len(rep["tasks"])),
           "shard_task_hosts": ",".join(sorted({t["host"] for t in rep["tasks"]}))}
    ids = [t["slurm_job_id"] for t in rep["tasks"] if t["slurm_job_id"]]
    if ids:
        out["shard_slurm_job_ids"] = ",".join(ids)
    return out
