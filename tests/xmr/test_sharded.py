"""Sharded XR-Linear training (xmr.sharded): the same weights and predictions as one process."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_problem

from xmr import XRLinear
from xmr.sharded import JoblibEngine, choose_split_depth, fit_sharded, train_task


class InProcess:
    """Runs the tasks one after another here (the engine contract without processes)."""

    threads_per_task = 1

    def __init__(self):
        self.calls = []

    def map(self, fn, arglists):
        self.calls.append(list(arglists))
        return [fn(*args) for args in arglists]


PARAMS = dict(nr_splits=4, max_leaf_size=4, threshold=0.0, seed=3, n_jobs=1)


@pytest.fixture(scope="module")
def problem():
    return random_problem(300, 60, 96, seed=5)


@pytest.fixture(scope="module")
def single(problem):
    return XRLinear(**PARAMS).fit(*problem)


def assert_same_model(a: XRLinear, b: XRLinear) -> None:
    assert len(a.weights_) == len(b.weights_)
    for Wa, Wb in zip(a.weights_, b.weights_, strict=True):
        assert Wa.shape == Wb.shape
        assert Wa.nnz == Wb.nnz and Wa.nnz > 0
        assert (Wa != Wb).nnz == 0  # bit-identical, not close
    for Ca, Cb in zip(a.tree_.chain, b.tree_.chain, strict=True):
        assert (Ca != Cb).nnz == 0


@pytest.mark.parametrize("n_shards,split_depth", [(2, None), (3, 1), (5, 2), (1, None)])
def test_sharded_weights_equal_single_process(problem, single, n_shards, split_depth):
    assert single.tree_.depth >= 3  # the test problem has levels above and below each split
    engine = InProcess()
    model = fit_sharded(XRLinear(**PARAMS), *problem, n_shards=n_shards, engine=engine,
                        split_depth=split_depth)
    assert_same_model(model, single)
    X = problem[0]
    P1, P2 = single.predict(X, beam_size=4, topk=5), model.predict(X, beam_size=4, topk=5)
    assert (P1 != P2).nnz == 0
    report = model.shard_report_
    d = report["split_depth"]
    assert 1 <= d < single.tree_.depth
    assert len(engine.calls) == 1 and len(engine.calls[0]) == report["n_shards"] + 1
    assert report["n_shards"] == min(n_shards, single.tree_.level_sizes[d])
    # the subtree tasks see only their own instances
    rows = [t["rows"] for t in report["tasks"]]
    assert rows[0] == X.shape[0]
    if report["n_shards"] > 1:
        assert all(r < X.shape[0] for r in rows[1:])


def test_every_shard_trains_only_its_columns(problem, single, tmp_path):
    model = fit_sharded(XRLinear(**PARAMS), *problem, n_shards=3, engine=InProcess(),
                        split_depth=2, workdir=tmp_path)
    n_tasks = model.shard_report_["n_shards"] + 1
    assert n_tasks == 4
    depth = single.tree_.depth
    owners = np.zeros(single.weights_[-1].shape[1], dtype=int)
    for i in range(n_tasks):
        W = [sp.load_npz(tmp_path / f"task{i}" / f"W{t}.npz") for t in range(depth)]
        if i == 0:  # the top: levels 1 and 2 only
            assert W[0].nnz > 0 and W[1].nnz > 0 and all(w.nnz == 0 for w in W[2:])
        else:
            assert W[0].nnz == 0 and W[1].nnz == 0
            owners[np.unique(sp.csc_matrix(W[-1]).nonzero()[1])] += 1
    assert (owners == 1).all()  # every label's ranker trained by exactly one shard


def test_sharded_through_joblib_processes(problem, single):
    model = fit_sharded(XRLinear(**PARAMS), *problem, n_shards=2,
                        engine=JoblibEngine(n_workers=2, threads_per_task=1))
    assert_same_model(model, single)
    assert len({t["task"] for t in model.shard_report_["tasks"]}) == 3


def test_sharded_model_saves_and_loads(problem, single, tmp_path):
    model = fit_sharded(XRLinear(**PARAMS), *problem, n_shards=2, engine=InProcess())
    model.save(tmp_path / "m")
    assert_same_model(XRLinear.load(tmp_path / "m"), single)


def test_task_reads_its_plan(problem, tmp_path):
    fit_sharded(XRLinear(**PARAMS), *problem, n_shards=2, engine=InProcess(), workdir=tmp_path)
    again = train_task(str(tmp_path), 1)  # a task can be rerun (e.g. after a lost node)
    assert again["task"] == 1 and again["rows"] < problem[0].shape[0]


def test_split_depth_default_balances(single):
    tree = single.tree_
    d = choose_split_depth(tree, 2)
    assert tree.level_sizes[d] >= 4 or d == tree.depth - 1


def test_bad_options_are_refused(problem):
    with pytest.raises(ValueError, match="negative_sampling='tfn'"):
        fit_sharded(XRLinear(**{**PARAMS, "negative_sampling": "man"}), *problem, n_shards=2,
                    engine=InProcess())
    with pytest.raises(ValueError, match="n_shards must be >= 1"):
        fit_sharded(XRLinear(**PARAMS), *problem, n_shards=0, engine=InProcess())
    with pytest.raises(ValueError, match="split_depth must be < the tree's depth"):
        fit_sharded(XRLinear(**PARAMS), *problem, n_shards=2, engine=InProcess(),
                    split_depth=9)
    with pytest.raises(ValueError, match="depth >= 2"):
        fit_sharded(XRLinear(**{**PARAMS, "max_leaf_size": 200}), *problem, n_shards=2,
                    engine=InProcess())
