"""XRLinear: fit/predict, pruning, save/load, given trees, determinism."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_problem, random_tree, separable_problem
from sklearn.exceptions import NotFittedError

from xmr import LabelTree, XRLinear
from xmr.metrics import precision_at_k


def same_weights(a: XRLinear, b: XRLinear) -> bool:
    return len(a.weights_) == len(b.weights_) and all(
        Wa.shape == Wb.shape and np.array_equal(Wa.indptr, Wb.indptr)
        and np.array_equal(Wa.indices, Wb.indices) and np.array_equal(Wa.data, Wb.data)
        for Wa, Wb in zip(a.weights_, b.weights_, strict=True))


def same_tree(a: LabelTree, b: LabelTree) -> bool:
    return a.level_sizes == b.level_sizes and all(
        (Ca != Cb).nnz == 0 for Ca, Cb in zip(a.chain, b.chain, strict=True))


def same_predictions(P: sp.csr_matrix, Q: sp.csr_matrix) -> bool:
    return (P.shape == Q.shape and np.array_equal(P.indptr, Q.indptr)
            and np.array_equal(P.indices, Q.indices) and np.array_equal(P.data, Q.data))


@cache
def random_data():
    return random_problem(90, 50, 24, seed=3)


@cache
def base_model() -> XRLinear:
    """Trained with a small threshold so that it can be re-pruned."""
    X, Y = random_data()
    return XRLinear(nr_splits=2, max_leaf_size=4, threshold=0.02, n_jobs=1).fit(X, Y)


# ----------------------------------------------------------------------------- fit/predict
@pytest.mark.parametrize("negative_sampling", ["tfn", "man"])
def test_fit_separable_problem(negative_sampling):
    X, Y = separable_problem(40)
    model = XRLinear(nr_splits=4, max_leaf_size=4, negative_sampling=negative_sampling,
                     n_jobs=1)
    assert model.fit(X, Y) is model
    # 40 labels, leaves of <= 4: binary depth 4 = 16 leaves, grouped 4 at a time
    assert model.tree_.level_sizes == [1, 4, 16, 40]
    P = model.predict(X, beam_size=10, topk=5)
    assert precision_at_k(Y, P, 1) == 1.0
    assert P.shape == (120, 40) and P.format == "csr" and P.dtype == np.float32
    assert np.all(np.diff(P.indptr) == 5)


def test_fitted_attributes():
    X, Y = random_data()
    m = base_model()
    assert m.n_features_in_ == 50 and m.n_labels_ == 24
    assert m.threshold_ == 0.02
    assert m.tree_.n_labels == 24
    assert len(m.weights_) == m.tree_.depth
    for t, W in enumerate(m.weights_):
        assert W.format == "csc" and W.dtype == np.float32
        assert W.shape == (51, m.tree_.level_sizes[t + 1])  # D + 1 (bias row)
        assert np.all(np.abs(W.data.astype(np.float64)) >= 0.02)
        assert W[50].nnz > 0  # bias weights exist
    assert m.model_nnz_ == sum(W.nnz for W in m.weights_)
    assert m.fit_time_s_ >= m.index_time_s_ >= 0.0


def test_no_bias_gives_empty_bias_row():
    X, Y = random_data()
    m = XRLinear(nr_splits=2, max_leaf_size=4, threshold=0.0, bias=0.0, n_jobs=1).fit(X, Y)
    assert all(W[-1].nnz == 0 for W in m.weights_)


def test_man_changes_lower_levels_only():
    X, Y = random_data()
    kw = dict(nr_splits=2, max_leaf_size=4, threshold=0.0, n_jobs=1)
    tfn = XRLinear(**kw, negative_sampling="tfn").fit(X, Y)
    man = XRLinear(**kw, negative_sampling="man").fit(X, Y)
    assert same_tree(tfn.tree_, man.tree_)
    # the top level trains every child on all instances either way
    W0a, W0b = tfn.weights_[0], man.weights_[0]
    assert (W0a != W0b).nnz == 0
    # below it, matcher-aware negatives enlarge the pools
    assert any((Wa != Wb).nnz > 0 for Wa, Wb in zip(tfn.weights_[1:], man.weights_[1:],
                                                     strict=True))


def test_deterministic_for_a_seed():
    X, Y = random_data()
    kw = dict(nr_splits=2, max_leaf_size=4, threshold=0.05, n_jobs=1)
    a = XRLinear(**kw, seed=4).fit(X, Y)
    b = XRLinear(**kw, seed=4).fit(X, Y)
    assert same_tree(a.tree_, b.tree_) and same_weights(a, b)
    c = XRLinear(**kw, seed=5).fit(X, Y)
    assert not same_tree(a.tree_, c.tree_)


@pytest.mark.parametrize("negative_sampling", ["tfn", "man"])
def test_thread_count_gives_identical_model(negative_sampling):
    X, Y = random_data()
    kw = dict(nr_splits=2, max_leaf_size=4, threshold=0.05, seed=1,
              negative_sampling=negative_sampling)
    one = XRLinear(**kw, n_jobs=1).fit(X, Y)
    two = XRLinear(**kw, n_jobs=2).fit(X, Y)
    assert same_tree(one.tree_, two.tree_) and same_weights(one, two)


def test_get_params_round_trip():
    m = XRLinear(nr_splits=8, threshold=0.3, negative_sampling="man", verbose=True)
    params = m.get_params()
    assert params["nr_splits"] == 8 and params["threshold"] == 0.3
    assert XRLinear(**params).get_params() == params


# ----------------------------------------------------------------------------- given tree
def test_fit_with_label_tree_and_with_list():
    X, Y = random_data()
    tree = random_tree([1, 3, 7, 24], seed=2)
    a = XRLinear(threshold=0.05, n_jobs=1).fit(X, Y, tree=tree)
    assert a.tree_ is tree
    b = XRLinear(threshold=0.05, n_jobs=1).fit(X, Y, tree=tree.to_pecos_chain())
    assert same_tree(a.tree_, b.tree_) and same_weights(a, b)
    assert [W.shape[1] for W in a.weights_] == [3, 7, 24]


def test_fit_with_tree_of_wrong_label_count():
    X, Y = random_data()
    with pytest.raises(ValueError, match="tree has 20 labels but Y has 24"):
        XRLinear(n_jobs=1).fit(X, Y, tree=random_tree([1, 4, 20], seed=0))


def test_fit_with_invalid_tree_list():
    X, Y = random_data()
    bad = [sp.csc_matrix(np.ones((24, 2), np.float32))]  # root level with 2 columns
    with pytest.raises(ValueError, match="chain"):
        XRLinear(n_jobs=1).fit(X, Y, tree=bad)


# ----------------------------------------------------------------------------- prune
def test_prune_returns_sparser_copy():
    m = base_model()
    nnz_before = m.model_nnz_
    weights_before = [W.copy() for W in m.weights_]
    p = m.prune(0.2)
    assert isinstance(p, XRLinear) and p is not m
    assert p.threshold_ == 0.2 and p.threshold == 0.2
    assert p.model_nnz_ == sum(W.nnz for W in p.weights_)
    assert 0 < p.model_nnz_ < nnz_before
    for W in p.weights_:
        assert np.all(np.abs(W.data.astype(np.float64)) >= 0.2)
    # the original is untouched
    assert m.model_nnz_ == nnz_before and m.threshold_ == 0.02
    for W, W0 in zip(m.weights_, weights_before, strict=True):
        assert (W != W0).nnz == 0
    # same tree, same hyper-parameters apart from the threshold
    assert same_tree(p.tree_, m.tree_)
    assert {k: v for k, v in p.get_params().items() if k != "threshold"} == \
        {k: v for k, v in m.get_params().items() if k != "threshold"}


def test_prune_equals_training_with_that_threshold():
    # pruning happens after each solve, so re-pruning reproduces a model trained at 0.2
    X, Y = random_data()
    trained = XRLinear(nr_splits=2, max_leaf_size=4, threshold=0.2, n_jobs=1).fit(X, Y)
    assert same_weights(base_model().prune(0.2), trained)


def test_prune_same_threshold_same_predictions():
    X, _ = random_data()
    m = base_model()
    p = m.prune(m.threshold_)
    assert p.model_nnz_ == m.model_nnz_
    assert same_predictions(p.predict(X, topk=5), m.predict(X, topk=5))


def test_prune_below_current_threshold_raises():
    with pytest.raises(ValueError, match=r"threshold must be >= the model's current threshold "
                                         r"0\.02 .* got 0\.01"):
        base_model().prune(0.01)


def test_prune_is_chainable():
    m = base_model()
    p = m.prune(0.1).prune(0.3)
    assert same_weights(p, m.prune(0.3))
    with pytest.raises(ValueError, match="got 0.2"):
        p.prune(0.2)


def test_prune_unfitted():
    with pytest.raises(NotFittedError):
        XRLinear().prune(0.5)


# ----------------------------------------------------------------------------- save/load
def test_save_load_round_trip(tmp_path):
    X, _ = random_data()
    m = base_model().prune(0.05)
    m.save(tmp_path / "model")
    back = XRLinear.load(tmp_path / "model")
    assert back.get_params() == m.get_params()
    for attr in ("threshold_", "n_features_in_", "n_labels_", "model_nnz_", "fit_time_s_",
                 "index_time_s_"):
        assert getattr(back, attr) == getattr(m, attr), attr
    assert same_tree(back.tree_, m.tree_) and same_weights(back, m)
    for pp in ("l3-hinge", "noop"):
        assert same_predictions(back.predict(X, beam_size=4, topk=6, post_processor=pp),
                                m.predict(X, beam_size=4, topk=6, post_processor=pp))
    # a loaded model can be pruned further, not below what it has
    assert back.prune(0.1).model_nnz_ == m.prune(0.1).model_nnz_
    with pytest.raises(ValueError):
        back.prune(0.03)


def test_save_unfitted(tmp_path):
    with pytest.raises(NotFittedError):
        XRLinear().save(tmp_path / "never-written")
    assert not (tmp_path / "never-written").exists()


@pytest.fixture
def saved(tmp_path) -> Path:
    folder = tmp_path / "saved"
    base_model().save(folder)
    return folder


def _rewrite_meta(folder: Path, **changes):
    meta = json.loads((folder / "xrlinear.json").read_text())
    for k, v in changes.items():
        if v is None:
            del meta[k]
        else:
            meta[k] = v
    (folder / "xrlinear.json").write_text(json.dumps(meta))


def _raises_naming(exc, folder: Path):
    return pytest.raises(exc, match=re.escape(str(folder)))


def test_load_missing_folder(tmp_path):
    with _raises_naming(FileNotFoundError, tmp_path / "nope"):
        XRLinear.load(tmp_path / "nope")


def test_load_folder_without_meta(tmp_path):
    (tmp_path / "empty").mkdir()
    with _raises_naming(ValueError, tmp_path / "empty") as info:
        XRLinear.load(tmp_path / "empty")
    assert "xrlinear.json is missing" in str(info.value)


def test_load_damaged_json(saved):
    (saved / "xrlinear.json").write_text('{"format": "xmr.XRLinear", ')
    with _raises_naming(ValueError, saved) as info:
        XRLinear.load(saved)
    assert "damaged" in str(info.value)


def test_load_json_not_an_object(saved):
    (saved / "xrlinear.json").write_text("[1, 2]")
    with _raises_naming(ValueError, saved):
        XRLinear.load(saved)


def test_load_wrong_format_name(saved):
    _rewrite_meta(saved, format="pecos.XLinearModel")
    with _raises_naming(ValueError, saved) as info:
        XRLinear.load(saved)
    assert "pecos.XLinearModel" in str(info.value)


def test_load_wrong_format_version(saved):
    _rewrite_meta(saved, format_version=99)
    with _raises_naming(ValueError, saved) as info:
        XRLinear.load(saved)
    assert "version 99" in str(info.value)


@pytest.mark.parametrize("key", ["depth", "params", "n_features_in_", "threshold_"])
def test_load_meta_missing_key(saved, key):
    _rewrite_meta(saved, **{key: None})
    with _raises_naming(ValueError, saved):
        XRLinear.load(saved)


def test_load_unknown_param(saved):
    meta = json.loads((saved / "xrlinear.json").read_text())
    _rewrite_meta(saved, params={**meta["params"], "learning_rate": 1.0})
    with _raises_naming(ValueError, saved):
        XRLinear.load(saved)


@pytest.mark.parametrize("name", ["W0.npz", "W1.npz", "C0.npz", "C2.npz"])
def test_load_missing_array_file(saved, name):
    (saved / name).unlink()
    with _raises_naming(ValueError, saved) as info:
        XRLinear.load(saved)
    assert name[:2] in str(info.value)


def test_load_weight_file_of_wrong_shape(saved):
    sp.save_npz(saved / "W1.npz", sp.csc_matrix((7, 3), dtype=np.float32))
    with _raises_naming(ValueError, saved) as info:
        XRLinear.load(saved)
    assert "W1.npz has shape (7, 3)" in str(info.value)


def test_load_garbage_array_file(saved):
    (saved / "W0.npz").write_bytes(b"not a zip file")
    with _raises_naming(ValueError, saved):
        XRLinear.load(saved)


def test_man_negatives_use_pecos_only_topk(monkeypatch):
    """Matcher-aware negatives come from a beam of PECOS's layer only_topk (20), not 10."""
    import xmr.model

    X, Y = random_problem(300, n_labels=64, seed=3)
    seen = []
    beam = XRLinear._beam

    def spy(self, X, layout, beam_size, topk, pp, n_threads):
        seen.append((beam_size, topk))
        return beam(self, X, layout, beam_size, topk, pp, n_threads)

    monkeypatch.setattr(XRLinear, "_beam", spy)
    XRLinear(nr_splits=2, max_leaf_size=4, negative_sampling="man", n_jobs=1).fit(X, Y)
    assert xmr.model.MAN_BEAM_SIZE == 20
    assert seen and all(s == (20, 20) for s in seen)


# ----------------------------------------------------------------------------- task batches
def _level(n_parents, kids_per_parent, rows_per_parent, seed=0):
    """A level's arrays as `XRLinear._train_levels` passes them to `task_batches`."""
    rng = np.random.default_rng(seed)
    n_rows = n_parents * rows_per_parent
    X_indptr = np.concatenate([[0], np.cumsum(rng.integers(1, 6, n_rows))]).astype(np.int64)
    pool_ptr = np.arange(0, n_rows + 1, rows_per_parent, dtype=np.int64)
    pool_idx = rng.permutation(n_rows).astype(np.int64)
    kids = rng.integers(0, kids_per_parent + 1, n_parents)  # some parents have no child
    child_ptr = np.concatenate([[0], np.cumsum(kids)]).astype(np.int64)
    return X_indptr, pool_ptr, pool_idx, child_ptr, kids


@pytest.mark.parametrize("n_parents, n_threads", [(3, 2), (5000, 2), (5000, 1)])
def test_task_batches_train_every_child_once_longest_first(n_parents, n_threads):
    from xmr.model import TASKS_PER_THREAD, task_batches

    X_indptr, pool_ptr, pool_idx, child_ptr, kids = _level(n_parents, 40 if n_parents < 10
                                                           else 2, 30)
    trained = np.arange(n_parents)
    batches = task_batches(X_indptr, pool_ptr, pool_idx, child_ptr, trained, n_threads)
    parent = np.concatenate([b[0] for b in batches])
    lo, hi = np.concatenate([b[1] for b in batches]), np.concatenate([b[2] for b in batches])
    covered = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
    np.testing.assert_array_equal(np.sort(covered), np.arange(child_ptr[-1]))  # each once
    assert np.all((child_ptr[parent] <= lo) & (hi <= child_ptr[parent + 1]) & (lo < hi))
    nnz = np.diff(X_indptr) + 1
    cost = np.array([nnz[pool_idx[pool_ptr[p]:pool_ptr[p + 1]]].sum() for p in parent])
    cost = cost * (hi - lo)
    assert np.all(np.diff(cost) <= 0)  # longest first
    if n_parents < 10:  # few parents: children in groups of array_split's sizes
        assert parent.size >= TASKS_PER_THREAD * n_threads
        n_tasks, busy = TASKS_PER_THREAD * n_threads, np.flatnonzero(kids)
        pool_cost = np.array([nnz[pool_idx[pool_ptr[p]:pool_ptr[p + 1]]].sum() for p in busy])
        share = (pool_cost * kids[busy]).sum() / n_tasks
        for p, c in zip(busy, pool_cost):
            sizes = (hi - lo)[parent == p]
            g = min(kids[p], max(-(-n_tasks // busy.size), int(np.ceil(c * kids[p] / share))))
            expect = [a.size for a in np.array_split(np.arange(kids[p]), g)]
            assert sorted(sizes.tolist()) == sorted(expect)
    else:  # many parents of one or two children: a few batches, not one call per parent
        assert len(batches) <= TASKS_PER_THREAD * n_threads + 1 < parent.size
    assert task_batches(X_indptr, pool_ptr, pool_idx, child_ptr, trained[kids == 0],
                        n_threads) == []


@pytest.mark.parametrize("n_threads", [1, 2])
def test_task_batches_cut_a_parent_that_outweighs_a_batch(n_threads):
    """Many one-child parents and one parent with most of the level's cost (the trie's leaf
    level on the full AOL log): that parent's children go to several tasks of about a batch
    each, so no thread is left with most of the level."""
    from xmr.model import TASKS_PER_THREAD, task_batches

    X_indptr, pool_ptr, pool_idx, _, _ = _level(2000, 1, 30, seed=1)
    kids = np.ones(2000, dtype=np.int64)
    kids[7] = 5000  # parent 7: 5000 children over a pool as large as the others'
    child_ptr = np.concatenate([[0], np.cumsum(kids)]).astype(np.int64)
    batches = task_batches(X_indptr, pool_ptr, pool_idx, child_ptr, np.arange(2000), n_threads)
    parent = np.concatenate([b[0] for b in batches])
    lo, hi = np.concatenate([b[1] for b in batches]), np.concatenate([b[2] for b in batches])
    covered = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
    np.testing.assert_array_equal(np.sort(covered), np.arange(child_ptr[-1]))
    nnz = np.diff(X_indptr) + 1
    pool_cost = np.array([nnz[pool_idx[pool_ptr[p]:pool_ptr[p + 1]]].sum() for p in range(2000)])
    share = pool_cost[7] * 5000 / (pool_cost * kids).sum()  # 0.7 of the level's cost
    n_groups = int(np.ceil(share * TASKS_PER_THREAD * n_threads))
    assert share > 0.5 and (parent == 7).sum() == n_groups >= TASKS_PER_THREAD * n_threads // 2
    assert max((hi - lo)[parent == 7]) == -(-5000 // n_groups)  # array_split's sizes


def test_training_in_batches_moves_no_weight():
    """The batched level (many one-child parents: a trie's shape) gives the weights of
    training each parent as its own task."""
    import xmr.model as model_mod

    X, Y = random_problem(300, 40, 60, seed=4)
    tree = random_tree([1, 30, 50, 60], seed=4)
    batched = XRLinear(n_jobs=2, threshold=0.0).fit(X, Y, tree=tree)
    original = model_mod.TASKS_PER_THREAD
    try:  # one batch per task: the cost target below every task's cost
        model_mod.TASKS_PER_THREAD = 10 ** 9
        alone = XRLinear(n_jobs=2, threshold=0.0).fit(X, Y, tree=tree)
    finally:
        model_mod.TASKS_PER_THREAD = original
    for a, b in zip(batched.weights_, alone.weights_):
        assert (a != b).nnz == 0 and a.nnz == b.nnz
