"""``model.shards=N``: XR-Linear trained by shards (:mod:`xmr.sharded`), the sweep's launcher
as the engine (chosen from the config by :func:`experiments.spec.resolve`, passed in).

- ``hydra/launcher=slurm`` (submitit): every shard task is its own SLURM job, submitted from
  the training job with the launcher's partition, time limit, CPUs and memory; the tasks'
  files go in the job's output folder (a shared filesystem, as the sweep needs anyway);
- any other launcher (basic, joblib): ``model.shard_workers`` local worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

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

    def __init__(self, folder: Path, launcher: dict):
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


@dataclass(frozen=True)
class ShardEngine:
    """Where shard tasks run, decided when the job's config is resolved
    (:func:`experiments.spec.resolve`) and passed to :func:`fit`: local worker processes
    (``kind="joblib"``) or SLURM jobs with the sweep launcher's resources (``"slurm"``);
    ``workdir``: the tasks' files (the job's output folder), None outside a Hydra job."""

    kind: str = "joblib"
    workdir: Path | None = None
    launcher: dict | None = None  # the SLURM launcher's settings (partition, CPUs, ...)

    def make(self, n_workers: int):
        if self.kind == "slurm":
            return SubmititEngine(self.workdir / "submitit", self.launcher)
        return JoblibEngine(n_workers=n_workers)


def engine_of(launcher: dict | None, output_dir: Path | None) -> ShardEngine:
    """The engine of a job run by ``launcher`` (Hydra's launcher config) writing to
    ``output_dir`` (see the module docstring)."""
    workdir = None if output_dir is None else Path(output_dir) / "shards"
    if launcher is not None and str(launcher.get("_target_", "")).endswith("SlurmLauncher"):
        return ShardEngine("slurm", workdir, dict(launcher))
    return ShardEngine("joblib", workdir)


def fit(model: XRLinear, X, Y, *, tree, n_shards: int, n_workers: int,
        engine: ShardEngine) -> XRLinear:
    """``model`` trained by ``n_shards`` shards on ``tree`` with ``engine``."""
    fit_sharded(model, X, Y, n_shards=n_shards, engine=engine.make(n_workers), tree=tree,
                workdir=engine.workdir)
    return model


def tags(report: dict | None, engine: str) -> dict[str, str]:
    """How a model trained in this process was sharded (nothing for one-process training
    or a model loaded from the cache): engine, split depth, tasks, their SLURM job ids."""
    if report is None:
        return {}
    out = {"shard_engine": engine, "shard_split_depth": str(report["split_depth"]),
           "shard_tasks": str(len(report["tasks"])),
           "shard_task_hosts": ",".join(sorted({t["host"] for t in report["tasks"]}))}
    ids = [t["slurm_job_id"] for t in report["tasks"] if t["slurm_job_id"]]
    if ids:
        out["shard_slurm_job_ids"] = ",".join(ids)
    return out
