"""train_labels_lanes: k one-vs-rest problems per pass of the rows reach each problem's exact
optimum (the plain dual CD reference of test_solver), whatever the lanes, and prune as the
one-problem solver does."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_features
from test_solver import ref_dual_cd

from xmr.kernels.solver_batch import train_labels_lanes

N, D, L = 40, 20, 7


def _inputs(seed=0, n_labels=L):
    X = random_features(N, D, density=0.15, seed=seed)
    rng = np.random.default_rng(seed)
    Y = (rng.random((N, n_labels)) < 0.15).astype(np.float32)
    Y[:, -1] = 0  # a label with no positive: every row a negative
    Y[0, 0] = 1
    T = sp.csc_matrix(Y)
    T.sort_indices()
    return X, T


def _run(X, T, labels, lanes, *, eps=1e-7, max_iter=100000, bias=1.0, threshold=0.0,
         Cp=1.0, Cn=1.0, seed=0):
    return train_labels_lanes(X.indptr.astype(np.int64), X.indices.astype(np.int32), X.data,
                              X.shape[1], np.asarray(labels, dtype=np.int64),
                              T.indptr.astype(np.int64), T.indices.astype(np.int64), lanes,
                              Cp, Cn, eps, max_iter, bias, threshold, seed)


def _dense(out, labels, n_labels):
    feat, lab, val, bias_w = out
    W = np.zeros((D, n_labels))
    W[feat, lab] = val
    b = np.zeros(n_labels)
    b[np.asarray(labels)] = bias_w
    return W, b


@pytest.mark.parametrize("lanes", [1, 3, 8])
@pytest.mark.parametrize("bias, Cp, Cn", [(1.0, 1.0, 1.0), (2.0, 1.5, 0.5), (0.0, 1.0, 1.0)])
def test_lanes_reach_each_problems_optimum(lanes, bias, Cp, Cn):
    # 7 labels over 3 lanes: lanes are refilled as their problems converge
    X, T = _inputs(seed=lanes)
    labels = list(range(L))
    out = _run(X, T, labels, lanes, bias=bias, Cp=Cp, Cn=Cn)
    assert out[1].dtype == np.int32 and out[2].dtype == np.float32
    assert out[3].shape == (L,) and out[3].dtype == np.float32
    W, b = _dense(out, labels, L)
    Xd = X.toarray().astype(np.float64)
    for c in labels:
        y = np.where(T[:, c].toarray().ravel() > 0, 1, -1)
        w_ref, b_ref = ref_dual_cd(Xd, y, Cp, Cn, bias)
        np.testing.assert_allclose(W[:, c], w_ref, atol=1e-4)
        assert b[c] == pytest.approx(b_ref, abs=1e-4)
    if bias == 0.0:
        assert np.all(out[3] == 0)


def test_a_subset_of_labels_in_any_order_of_lanes():
    X, T = _inputs(seed=5)
    labels = [1, 4, 5]
    out = _run(X, T, labels, 2)
    assert set(out[1].tolist()) <= set(labels)
    W, b = _dense(out, labels, L)
    W_all, b_all = _dense(_run(X, T, list(range(L)), 4), list(range(L)), L)
    np.testing.assert_allclose(W[:, labels], W_all[:, labels], atol=1e-4)
    np.testing.assert_allclose(b[labels], b_all[labels], atol=1e-4)
    assert np.all(W[:, [0, 2, 3, 6]] == 0)


def test_prunes_small_weights_and_bias_like_the_solver():
    X, T = _inputs(seed=2)
    labels = list(range(L))
    W0, b0 = _dense(_run(X, T, labels, 3), labels, L)
    thr = 0.3
    W, b = _dense(_run(X, T, labels, 3, threshold=thr), labels, L)
    # the same solves, then |w| < thr dropped (bias included)
    np.testing.assert_array_equal(W, np.where(np.abs(W0) >= thr, W0, 0.0))
    np.testing.assert_array_equal(b, np.where(np.abs(b0) >= thr, b0, 0.0))
    assert (W != 0).sum() < (W0 != 0).sum()


def test_deterministic_and_seeded():
    X, T = _inputs(seed=3)
    labels = list(range(L))
    a = _run(X, T, labels, 3, eps=0.1, max_iter=100)
    b = _run(X, T, labels, 3, eps=0.1, max_iter=100)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    c = _run(X, T, labels, 3, eps=0.1, max_iter=100, seed=7)
    assert not np.array_equal(a[2], c[2])  # another shared order, another path


def test_max_iter_stops_every_lane():
    X, T = _inputs(seed=4)
    labels = list(range(L))
    W1, _ = _dense(_run(X, T, labels, 3, eps=1e-12, max_iter=1), labels, L)
    W, _ = _dense(_run(X, T, labels, 3), labels, L)
    assert np.abs(W1).sum() > 0  # one pass moved every lane's weights, not to the optimum
    assert not np.allclose(W1, W, atol=1e-4)


def test_positives_beyond_the_rows_are_ignored():
    X, T = _inputs(seed=6)
    labels = list(range(L))
    W, b = _dense(_run(X[:30], T, labels, 3), labels, L)
    Xd = X[:30].toarray().astype(np.float64)
    for c in labels:
        y = np.where(T[:30, c].toarray().ravel() > 0, 1, -1)
        w_ref, b_ref = ref_dual_cd(Xd, y, 1.0, 1.0, 1.0)
        np.testing.assert_allclose(W[:, c], w_ref, atol=1e-4)
