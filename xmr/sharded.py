"""Sharded XR-Linear training: one model's training split into independent tasks.

With teacher-forced negatives ("tfn") every tree node's ranker is trained on its parent's
pool: the instances with a true label under the parent. Below a split depth d the tree falls
apart into independent subtrees (PECOS's distributed training cuts its tree the same way):

1. the driver checks the data and builds the label tree (indexing), exactly as :meth:`fit`;
2. task 0 trains the top levels (the rankers of the nodes at depths 1..d) on all instances;
   each other task trains a group of depth-d subtrees (every ranker below them) on only the
   instances with a label in its subtrees. The tasks read their inputs from, and write their
   weights to, a work folder, so any engine that can run a function in another process runs
   them: :class:`JoblibEngine` (local processes), or the harness's SLURM engine (submitit);
3. the driver adds the tasks' weight matrices (their columns are disjoint) into one model.

Each ranker sees the same pool in the same order with the same seed as in a one-process
:meth:`XRLinear.fit`, so the weights are identical, not just close.

"man" negatives (beam search over the already trained upper levels, which crosses subtrees)
do not split this way and are refused.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from xmr._validation import check_int, check_trained_weights
from xmr.model import XRLinear
from xmr.tree import LabelTree

PLAN = "plan.json"


class Engine(Protocol):
    """Runs ``fn(*args)`` for every ``args`` (in other processes, at once as it can)."""

    threads_per_task: int

    def map(self, fn: Callable, arglists: Sequence[tuple]) -> list: ...


class JoblibEngine:
    """Local worker processes (joblib's loky backend), ``n_workers`` at a time.

    ``threads_per_task``: threads each task trains with; default the cores divided among the
    workers (at least 1).
    """

    def __init__(self, *, n_workers: int = 2, threads_per_task: int | None = None):
        self.n_workers = check_int("n_workers", n_workers, minimum=1)
        cores = os.cpu_count() or 1
        self.threads_per_task = (max(1, cores // self.n_workers) if threads_per_task is None
                                 else check_int("threads_per_task", threads_per_task,
                                                minimum=1))

    def map(self, fn: Callable, arglists: Sequence[tuple]) -> list:
        from joblib import Parallel, delayed

        return Parallel(n_jobs=self.n_workers, backend="loky")(
            delayed(fn)(*args) for args in arglists)


def choose_split_depth(tree: LabelTree, n_shards: int) -> int:
    """The shallowest depth with at least 2 subtrees per shard (load balance), else the
    deepest one that can be split (depth - 1)."""
    sizes = tree.level_sizes
    for d in range(1, tree.depth):
        if sizes[d] >= 2 * n_shards:
            return d
    return tree.depth - 1


def _descendants(tree: LabelTree, nodes: np.ndarray, depth: int) -> list[np.ndarray]:
    """Per level t >= depth: the level-t nodes of the subtrees rooted at ``nodes``."""
    levels = [np.sort(nodes)]
    for t in range(depth, tree.depth - 1):
        C = sp.csr_matrix(sp.csc_matrix(tree.chain[t])[:, levels[-1]])  # their children
        levels.append(np.flatnonzero(np.diff(C.indptr) > 0).astype(np.int64))
    return levels


def plan_shards(X: sp.csr_matrix, targets: sp.spmatrix, *, n_shards: int
                ) -> list[np.ndarray]:
    """The subtree roots of each shard, given ``targets`` (instances × depth-d nodes, 0/1):
    longest-processing-time-first over a subtree's cost (the feature non-zeros of the
    instances with a label under it)."""
    row_nnz = np.diff(X.indptr).astype(np.float64) + 1.0
    cost = np.asarray(targets.T @ row_nnz).ravel()
    load = np.zeros(n_shards)
    owned: list[list[int]] = [[] for _ in range(n_shards)]
    for node in np.argsort(-cost, kind="stable"):
        s = int(np.argmin(load))
        owned[s].append(int(node))
        load[s] += cost[node]
    return [np.sort(np.asarray(o, dtype=np.int64)) for o in owned if o]


def _write_task(folder: Path, X, Y, parents: list[np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sp.save_npz(folder / "X.npz", X, compressed=False)
    sp.save_npz(folder / "Y.npz", Y, compressed=False)
    np.savez(folder / "parents.npz", *parents)


def train_task(workdir: str, task: int) -> dict:
    """Train one task of the plan in ``workdir`` (runs in a worker process): reads its inputs,
    writes ``W{t}.npz`` for every level, returns its timings."""
    t0 = time.perf_counter()
    workdir = Path(workdir)
    plan = json.loads((workdir / PLAN).read_text())
    folder = workdir / f"task{task}"
    X = sp.csr_matrix(sp.load_npz(folder / "X.npz"))
    Y = sp.csr_matrix(sp.load_npz(folder / "Y.npz"))
    with np.load(folder / "parents.npz") as f:
        parents = [f[f"arr_{t}"] for t in range(len(f.files))]
    tree = LabelTree.load(workdir / "tree", plan["depth"])
    model = XRLinear(**{**plan["params"], "n_jobs": plan["threads_per_task"]})
    t1 = time.perf_counter()
    weights = model._train_levels(X, Y, tree, plan["threads_per_task"], parents=parents)
    t2 = time.perf_counter()
    for t, W in enumerate(weights):
        sp.save_npz(folder / f"W{t}.npz", W, compressed=False)
    return {"task": task, "rows": int(X.shape[0]), "train_s": t2 - t1,
            "total_s": time.perf_counter() - t0, "host": os.uname().nodename,
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float | None:
    """This process's peak resident memory (Linux VmHWM; ru_maxrss would carry over a
    forking parent's peak), None where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def fit_sharded(model: XRLinear, X, Y, *, n_shards: int, engine: Engine | None = None,
                split_depth: int | None = None, workdir: str | Path | None = None,
                tree: LabelTree | list | None = None) -> XRLinear:
    """Train ``model`` (an unfitted :class:`XRLinear`) by shards; same result as ``fit``.

    Parameters
    ----------
    model : XRLinear
        Its hyperparameters are used; it is fitted in place and returned.
    X, Y : as for :meth:`XRLinear.fit`.
    n_shards : int
        Subtree tasks (>= 1); the top levels are one more task.
    engine : Engine, optional
        What runs the tasks; default ``JoblibEngine(n_workers=2)``.
    split_depth : int, optional
        Tree depth of the subtree roots (1 .. depth-1); default :func:`choose_split_depth`.
    workdir : path, optional
        Folder for the tasks' inputs and outputs (must be visible to the engine's workers,
        e.g. on a shared filesystem for SLURM); default a temporary folder, removed after.
    tree : optional
        A given label tree, as for :meth:`XRLinear.fit`.

    After fitting, ``model.shard_report_`` lists each task's rows, timings and host.
    """
    n_shards = check_int("n_shards", n_shards, minimum=1)
    if model.negative_sampling != "tfn":
        raise ValueError(f"sharded training needs negative_sampling='tfn' (got "
                         f"{model.negative_sampling!r}): 'man' negatives come from a beam "
                         "search across subtrees, so subtrees are not independent")
    engine = engine if engine is not None else JoblibEngine(n_workers=2)
    X, Y, tree, _ = model._index(X, Y, tree)
    if tree.depth < 2:
        raise ValueError("sharded training needs a label tree of depth >= 2 (got a one-level "
                         "tree); lower max_leaf_size or train with fit()")
    if split_depth is None:
        split_depth = choose_split_depth(tree, n_shards)
    split_depth = check_int("split_depth", split_depth, minimum=1)
    if split_depth >= tree.depth:
        raise ValueError(f"split_depth must be < the tree's depth {tree.depth} (subtrees "
                         f"need a level to train), got {split_depth}")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="xmr-shards-") as tmp:
            return fit_sharded(model, X, Y, n_shards=n_shards, engine=engine,
                               split_depth=split_depth, workdir=tmp, tree=tree)
    t0 = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tree.save(workdir / "tree")
    d = split_depth
    every = [np.arange(n) for n in tree.level_sizes[:-1]]
    none = np.zeros(0, dtype=np.int64)
    _write_task(workdir / "task0", X, Y, every[:d] + [none] * (tree.depth - d))
    under = sp.csc_matrix(tree.level_targets(Y)[d - 1])  # instances × depth-d nodes
    shards = plan_shards(X, under, n_shards=n_shards)
    for i, nodes in enumerate(shards, start=1):
        rows = np.unique(np.concatenate([under.indices[under.indptr[n]:under.indptr[n + 1]]
                                         for n in nodes]))
        _write_task(workdir / f"task{i}", X[rows], Y[rows],
                    [none] * d + _descendants(tree, nodes, d))
    (workdir / PLAN).write_text(json.dumps({
        "params": model.get_params(), "depth": tree.depth, "split_depth": d,
        "n_tasks": len(shards) + 1, "threads_per_task": int(engine.threads_per_task)}))
    prepare_s = time.perf_counter() - t0
    report = engine.map(train_task, [(str(workdir), i) for i in range(len(shards) + 1)])
    t1 = time.perf_counter()
    weights = []
    for t in range(tree.depth):
        W = sp.load_npz(workdir / "task0" / f"W{t}.npz")
        for i in range(1, len(shards) + 1):
            W = W + sp.load_npz(workdir / f"task{i}" / f"W{t}.npz")  # disjoint columns
        W = sp.csc_matrix(W, dtype=np.float32)
        W.sort_indices()
        weights.append(W)
    del W  # the list holds the only reference: _set_model releases level by level
    check_trained_weights(weights, float(model.threshold), "XRLinear")
    model._set_model(tree, weights, float(model.threshold), X.shape[1])
    model.fit_time_s_ = model.index_time_s_ + time.perf_counter() - t0
    model.shard_report_ = {"split_depth": d, "n_shards": len(shards), "prepare_s": prepare_s,
                           "assemble_s": time.perf_counter() - t1, "tasks": list(report)}
    return model
