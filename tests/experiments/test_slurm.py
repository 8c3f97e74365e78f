"""The smoke sweep on a real single-node SLURM cluster (slurmctld + slurmd + munged on
localhost, started here by ``experiments.tools.slurm_local`` and stopped after), with every training
sharded into SLURM jobs of its own (``model.shards=2``): each grid point runs as a SLURM job,
all runs end FINISHED in one shared MLflow store, the trainings are shared through
``paths.cache_dir``, and the sharded models equal one-process training's.

Skipped with the reason where SLURM/munge are not installed or not root (``.ci/run`` installs
``slurm-wlm`` and ``munge`` first, so CI runs it)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from experiments.tools import slurm_local
from tests.experiments.test_run import (
    SMOKE_GRID_SEED0,
    assert_ok,
    children,
    grid_point,
    parents,
    store,
    summary,
)

pytestmark = [pytest.mark.slow, pytest.mark.slurm,
              pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")]

QUALITY = ("precision_at_1", "precision_at_5", "recall_at_10", "recall_at_100", "ndcg_at_10",
           "mrr_at_10", "model_nnz")


@pytest.fixture(scope="module")
def slurm_conf(tmp_path_factory):
    """SLURM_CONF of a cluster running for this module's tests; the daemons are stopped
    after them whatever happens."""
    reason = slurm_local.missing_reason()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("slurm")
    try:
        yield slurm_local.up(folder)
    finally:
        slurm_local.down(folder)


def slurm_jobs(conf) -> dict[str, str]:
    """job id → state of every job the controller knows."""
    out = subprocess.run(["scontrol", "-o", "show", "job"], env={**os.environ,
                         "SLURM_CONF": str(conf)}, capture_output=True, text=True, check=True)
    jobs = {}
    for line in out.stdout.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "JobId" in fields:
            jobs[fields["JobId"]] = fields.get("JobState", "?")
    return jobs


def settled_jobs(conf, ids, timeout_s: float = 180.0) -> dict[str, str]:
    """:func:`slurm_jobs` once none of ``ids`` is still pending or running: submitit hands
    back a job's result as soon as the job wrote it, a moment before the controller marks
    the job COMPLETED (bounded wait; the assertions then read what the controller says)."""
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = slurm_jobs(conf)
        live = [i for i in ids if jobs.get(i) in ("PENDING", "CONFIGURING", "RUNNING",
                                                   "COMPLETING")]
        if not live or time.monotonic() > deadline:
            return jobs
        time.sleep(1.0)


@pytest.mark.timeout(1500)
def test_smoke_sweep_on_slurm_with_sharded_training(slurm_conf, tmp_path, run_app, tmp_paths,
                                                    mlflow_store):
    root = tmp_path / "slurm"
    root.mkdir()
    proc = run_app("experiments.run", "-m", "experiment=smoke", "seed=0",
                   "hydra/launcher=slurm",
                   f"hydra.launcher.partition={slurm_local.PARTITION}",
                   "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
                   "hydra.launcher.timeout_min=20", "model.shards=2", *tmp_paths(root),
                   cwd=root, env={"SLURM_CONF": str(slurm_conf)}, timeout=1200)
    assert_ok(proc)
    assert summary(proc.stdout) == {"jobs": 8, "finished": 8, "failed": 0, "skipped": 0,
                                    "trainings": 2}
    # one shared store: the sweep's parent and its 8 runs, all FINISHED
    _, _, runs = store(root, mlflow_store)
    [parent] = parents(runs)
    kids = children(runs, parent.info.run_id)
    assert len(runs) == 9 and all(r.info.status == "FINISHED" for r in runs)
    assert {grid_point(r) for r in kids} == SMOKE_GRID_SEED0

    # every grid point ran as its own SLURM job, which the controller ran to completion
    ids = [r.data.tags.get("slurm_job_id") for r in kids]
    assert all(ids) and len(set(ids)) == 8, ids
    jobs = settled_jobs(slurm_conf, ids)
    assert all(jobs.get(i) == "COMPLETED" for i in ids), {i: jobs.get(i) for i in ids}

    # trainings shared through paths.cache_dir: one per feature set, each by 2 shard jobs
    # (+ the top levels' job) submitted from the training job
    trained = [r for r in kids if r.data.metrics["trained"] == 1.0]
    assert len(trained) == 2 and len(list((root / "cache" / "models").glob("*/model"))) == 2
    for r in trained:
        tags = r.data.tags
        assert tags["shard_engine"] == "slurm" and tags["shard_tasks"] == "3"
        shard_ids = tags["shard_slurm_job_ids"].split(",")
        assert len(set(shard_ids)) == 3 and not set(shard_ids) & set(ids)
        jobs = settled_jobs(slurm_conf, shard_ids)
        assert all(jobs.get(i) == "COMPLETED" for i in shard_ids)
    assert {r.data.tags["train_key"] for r in kids} == {r.data.tags["train_key"]
                                                        for r in trained}

    # the sharded models are the one-process models: same size and quality at one point
    local = tmp_path / "local"
    local.mkdir()
    point = ("word1", "0.05", "10", "0")  # features, threshold, beam, seed
    proc = run_app("experiments.run", "experiment=smoke", "features=word1",
                   "model.threshold=0.05", "eval.beam_size=10", *tmp_paths(local), cwd=local,
                   timeout=600)
    assert_ok(proc)
    _, _, [single] = store(local, mlflow_store)
    [sharded] = [r for r in kids if grid_point(r) == point]
    assert "shard_engine" not in single.data.tags
    for m in QUALITY:
        assert sharded.data.metrics[m] == single.data.metrics[m], m
