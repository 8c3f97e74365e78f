"""The inference layout holds exactly the trained weights, chunked by parent."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_problem

import xmr
from xmr.label_embedding import normalize
from xmr.layout import build_layout


def _weights_back(layout, tree, n_features: int) -> list[sp.csc_matrix]:
    """Each level's (D+1) × n_{t+1} CSC rebuilt from the layout (bias row = D)."""
    out = []
    for t in range(layout.n_levels):
        base_par, base_ch = layout.level_base[t], layout.level_base[t + 1]
        rows, cols, vals = [], [], []
        for g in range(base_par, layout.level_base[t + 1]):
            kids = layout.child_ids[layout.child_ptr[g]:layout.child_ptr[g + 1]] - base_ch
            feats = layout.row_feat[layout.chunk_ptr[g]:layout.chunk_ptr[g + 1]]
            assert np.all(np.diff(feats) > 0)  # sorted, distinct within the chunk
            for r, f in zip(range(layout.chunk_ptr[g], layout.chunk_ptr[g + 1]), feats):
                a, b = layout.row_ptr[r], layout.row_ptr[r + 1]
                assert np.all(np.diff(layout.ent_child[a:b]) > 0)
                rows += [f] * (b - a)
                cols += kids[layout.ent_child[a:b]].tolist()
                vals += layout.ent_val[a:b].tolist()
        n_ch = tree.level_sizes[t + 1]
        bias = layout.node_bias[base_ch:base_ch + n_ch]
        nz = np.flatnonzero(bias)
        W = sp.csc_matrix((np.r_[vals, bias[nz]], (np.r_[rows, np.full(nz.size, n_features)],
                                                   np.r_[cols, nz])),
                          shape=(n_features + 1, n_ch), dtype=np.float32)
        W.sort_indices()
        out.append(W)
    return out


@pytest.mark.parametrize("threshold", [0.0, 0.1, None])  # None: levels without any weight
def test_layout_round_trips_the_weights(threshold):
    X, Y = random_problem(200, 40, 60, seed=3)
    model = xmr.XRLinear(nr_splits=4, max_leaf_size=4, threshold=threshold or 0.0,
                         n_jobs=1).fit(X, Y)
    if threshold is None:  # fit refuses a threshold that prunes every weight: empty by hand
        model._set_model(model.tree_, [sp.csc_matrix(W.shape, dtype=np.float32)
                                       for W in model.weights_], 10.0, X.shape[1])
    back = _weights_back(model._layout, model.tree_, X.shape[1])
    assert len(back) == model.tree_.depth >= 2
    for W, B in zip(model.weights_, back):
        assert (abs(W - B) > 0).nnz == 0
    prefix = build_layout(model.tree_.chain, model.weights_[:1], 1.0)  # a prefix of levels
    assert prefix.n_levels == 1 and prefix.level_base[-1] == 1 + model.tree_.level_sizes[1]


def test_normalize_matches_scikit_learn():
    from sklearn.preprocessing import normalize as sk_normalize

    rng = np.random.default_rng(0)
    M = sp.random(50, 30, density=0.3, format="csr", dtype=np.float32, random_state=rng)
    M[3] = 0  # an all-zero row stays zero
    M = sp.csr_matrix(M)
    ours, theirs = normalize(M), sk_normalize(M, norm="l2")
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours.toarray(), theirs.toarray())


@pytest.mark.parametrize("nr_splits, threshold, bias", [(4, 0.0, 1.0), (2, 0.1, 2.5),
                                                        (4, 0.1, 0.0)])
def test_weights_are_held_once_and_rebuilt_bit_for_bit(nr_splits, threshold, bias, tmp_path,
                                                       monkeypatch):
    # the fitted model keeps its weights only in the layout (and the raw bias weights):
    # weights_ rebuilds the trained matrices exactly, values, order and dtypes
    X, Y = random_problem(300, 50, 80, seed=5)
    trained = []
    orig = xmr.XRLinear._set_model

    def spy(self, tree, weights, threshold, n_features):
        trained.append([W.copy() for W in weights])
        return orig(self, tree, weights, threshold, n_features)

    monkeypatch.setattr(xmr.XRLinear, "_set_model", spy)
    model = xmr.XRLinear(nr_splits=nr_splits, max_leaf_size=4, threshold=threshold,
                         bias=bias, n_jobs=1).fit(X, Y)
    assert "weights_" not in vars(model)  # not stored beside the layout

    def same(A, B):
        assert A.shape == B.shape and A.has_sorted_indices and B.has_sorted_indices
        for a, b in ((A.indptr, B.indptr), (A.indices, B.indices), (A.data, B.data)):
            assert a.dtype == b.dtype and np.array_equal(a, b)

    for W, R in zip(trained[0], model.weights_, strict=True):
        same(W, R)
    assert sum(W.nnz for W in model.weights_) == model.model_nnz_
    assert model.weights_nbytes() == sum(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes
                                         for W in model.weights_)
    if bias:  # the raw bias weights come back, not the layout's weight × bias
        assert any(W[-1].nnz for W in model.weights_)
    model.save(tmp_path / "m")
    loaded = xmr.XRLinear.load(tmp_path / "m")
    for W, R in zip(trained[0], loaded.weights_, strict=True):
        same(W, R)
    level = np.abs(np.concatenate([W.data for W in trained[0]]))
    cut = float(np.quantile(level, 0.5))
    pruned = model.prune(cut)
    for W, R in zip(trained[0], pruned.weights_, strict=True):
        W = W.copy()
        W.data[np.abs(W.data) < cut] = 0.0
        W.eliminate_zeros()
        assert (abs(W - R) > 0).nnz == 0 and W.nnz == R.nnz


def test_an_unfitted_model_has_no_weights():
    model = xmr.XRLinear()
    assert not hasattr(model, "weights_")


def test_a_failed_layout_build_leaves_the_fitted_model_whole(monkeypatch):
    # weights_ reads the tree, the bias weights and the layout together: a _set_model that
    # fails while building the layout must not leave a mix of old and new state
    import xmr.model

    X, Y = random_problem(200, 40, 60, seed=7)
    model = xmr.XRLinear(nr_splits=4, max_leaf_size=4, n_jobs=1).fit(X, Y)
    before = [W.copy() for W in model.weights_]
    other = xmr.XRLinear(nr_splits=2, max_leaf_size=4, n_jobs=1).fit(X, Y)

    def fail(*args, **kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(xmr.model, "build_layout", fail)
    with pytest.raises(MemoryError):
        model._set_model(other.tree_, other.weights_, 0.1, X.shape[1])
    assert model.tree_.depth == len(before)
    for W, R in zip(before, model.weights_, strict=True):
        assert (abs(W - R) > 0).nnz == 0 and W.nnz == R.nnz
