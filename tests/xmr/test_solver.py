"""Dual coordinate descent for the L2-regularised squared-hinge SVM, and train_task."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_features
from scipy.optimize import minimize

from xmr.kernels.solver import solve_dual_cd, train_task, train_tasks


# ----------------------------------------------------------------------------- references
def ref_dual_cd(X: np.ndarray, y: np.ndarray, Cp: float, Cn: float, bias: float,
                max_passes: int = 20000, tol: float = 1e-12) -> tuple[np.ndarray, float]:
    """Plain cyclic dual CD (Hsieh et al. 2008, no shrinking) on dense X; the bias is a
    constant feature of value ``bias``. Returns (w, bias weight)."""
    n = X.shape[0]
    Xb = np.hstack([X, np.full((n, 1), bias)]) if bias > 0 else X
    C = np.where(y > 0, Cp, Cn)
    Dii = 0.5 / C
    QD = (Xb * Xb).sum(axis=1) + Dii
    alpha = np.zeros(n)
    w = np.zeros(Xb.shape[1])
    for _ in range(max_passes):
        worst = 0.0
        for i in range(n):
            G = y[i] * (w @ Xb[i]) - 1.0 + Dii[i] * alpha[i]
            PG = min(G, 0.0) if alpha[i] == 0.0 else G
            worst = max(worst, abs(PG))
            a_new = max(alpha[i] - G / QD[i], 0.0)
            w += (a_new - alpha[i]) * y[i] * Xb[i]
            alpha[i] = a_new
        if worst < tol:
            break
    if bias > 0:
        return w[:-1], float(w[-1])
    return w, 0.0


def primal(wb: np.ndarray, Xb: np.ndarray, y: np.ndarray, C: np.ndarray) -> float:
    """½‖w‖² + ½b² + Σ C_i max(0, 1 − y_i (w·x_i + b·bias))² (bias folded into Xb)."""
    m = np.maximum(0.0, 1.0 - y * (Xb @ wb))
    return 0.5 * wb @ wb + (C * m * m).sum()


def primal_grad(wb, Xb, y, C):
    m = np.maximum(0.0, 1.0 - y * (Xb @ wb))
    return wb - 2.0 * Xb.T @ (C * m * y)


# ----------------------------------------------------------------------------- helpers
def _problem(n: int = 20, d: int = 10, seed: int = 0):
    X = random_features(n, d, density=0.5, seed=seed)
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.4, 1, -1).astype(np.int8)
    y[:2] = [1, -1]
    return X, y


def _solve(X: sp.csr_matrix, y, *, Cp=1.0, Cn=1.0, eps=1e-6, max_iter=100000, bias=1.0,
           seed=0):
    """Run the kernel on a CSR with the dtypes train_task uses."""
    n, d = X.shape
    data = X.data.astype(np.float32)
    sqnorm = np.asarray(sp.csr_matrix((data.astype(np.float64) ** 2, X.indices, X.indptr),
                                      shape=X.shape).sum(axis=1)).ravel()
    w = np.full(d, 123.0)  # must be zeroed by the kernel
    alpha, QD = np.empty(n), np.empty(n)
    index = np.empty(n, dtype=np.int64)
    b = solve_dual_cd(X.indptr.astype(np.int64), X.indices.astype(np.int32), data, sqnorm,
                      y.astype(np.int8), Cp, Cn, eps, max_iter, bias, seed, w, alpha, QD,
                      index)
    return w, b, alpha


# ----------------------------------------------------------------------------- solve_dual_cd
@pytest.mark.parametrize("bias, shrink", [(1.0, 0.1), (0.0, 1e-3)])
def test_prefetching_changes_no_value(bias, shrink):
    # prefetch_min_pool=0: every pool prefetched; a huge one: none. Bit for bit the same.
    X, y = _problem(n=3000, d=300, seed=4)
    data = X.data.astype(np.float32)
    sqnorm = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    runs = []
    for min_pool in (0, 1 << 40):
        w, alpha, QD = np.empty(300), np.empty(3000), np.empty(3000)
        index = np.empty(3000, dtype=np.int64)
        b = solve_dual_cd(X.indptr.astype(np.int64), X.indices.astype(np.int32), data,
                          sqnorm, y, 1.0, 1.0, shrink, 50, bias, 3, w, alpha, QD, index,
                          min_pool)
        runs.append((w, alpha, b))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]
    assert np.abs(runs[0][0]).sum() > 0  # a real solve, not all zeros


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("Cp, Cn, bias", [(1.0, 1.0, 1.0), (2.0, 0.5, 1.0), (1.0, 1.0, 0.0),
                                          (1.0, 3.0, 2.0)])
def test_solver_matches_reference(seed, Cp, Cn, bias):
    X, y = _problem(seed=seed)
    w, b, _ = _solve(X, y, Cp=Cp, Cn=Cn, bias=bias, seed=seed)
    w_ref, b_ref = ref_dual_cd(X.toarray().astype(np.float64), y, Cp, Cn, bias)
    np.testing.assert_allclose(w, w_ref, atol=1e-4)
    assert b == pytest.approx(b_ref, abs=1e-4)
    if bias == 0.0:
        assert b == 0.0


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("Cp, Cn, bias", [(1.0, 1.0, 1.0), (0.5, 2.0, 1.0)])
def test_solver_reaches_primal_optimum(seed, Cp, Cn, bias):
    X, y = _problem(n=25, d=6, seed=seed)
    w, b, _ = _solve(X, y, Cp=Cp, Cn=Cn, bias=bias, seed=seed)
    Xb = np.hstack([X.toarray().astype(np.float64), np.full((X.shape[0], 1), bias)])
    C = np.where(y > 0, Cp, Cn)
    yf = y.astype(np.float64)
    res = minimize(primal, np.zeros(Xb.shape[1]), args=(Xb, yf, C), jac=primal_grad,
                   method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000})
    f_kernel = primal(np.append(w, b), Xb, yf, C)
    assert f_kernel == pytest.approx(res.fun, rel=1e-4)
    np.testing.assert_allclose(np.append(w, b), res.x, atol=1e-3)


def test_solver_kkt_conditions():
    X, y = _problem(n=40, d=10, seed=5)
    Cp, Cn, bias = 1.0, 2.0, 1.0
    w, b, alpha = _solve(X, y, Cp=Cp, Cn=Cn, bias=bias, eps=1e-8)
    Xd = X.toarray().astype(np.float64)
    # w = Σ α_i y_i x_i, b = Σ α_i y_i · bias
    np.testing.assert_allclose(w, Xd.T @ (alpha * y), atol=1e-8)
    assert b == pytest.approx(bias * (alpha * y).sum(), abs=1e-8)
    # dual gradient G_i = y_i (w·x_i + b·bias) − 1 + α_i / (2 C_i); α ≥ 0, G = 0 where α > 0,
    # G ≥ 0 where α = 0
    G = y * (Xd @ w + b * bias) - 1.0 + alpha * 0.5 / np.where(y > 0, Cp, Cn)
    assert (alpha >= 0).all()
    assert np.abs(G[alpha > 0]).max() < 1e-6
    if (alpha == 0).any():
        assert G[alpha == 0].min() > -1e-6


def test_solver_max_iter_limits_passes():
    X, y = _problem(seed=1)
    w1, _, _ = _solve(X, y, max_iter=1, eps=1e-12)
    w_inf, _, _ = _solve(X, y, eps=1e-8)
    assert not np.allclose(w1, w_inf, atol=1e-3)


def test_solver_seed_changes_path_not_optimum():
    X, y = _problem(seed=2)
    w0, b0, _ = _solve(X, y, seed=0, eps=1e-8)
    w1, b1, _ = _solve(X, y, seed=99, eps=1e-8)
    np.testing.assert_allclose(w0, w1, atol=1e-5)
    assert b0 == pytest.approx(b1, abs=1e-5)


# ----------------------------------------------------------------------------- train_task
D_TASK = 20


def _task_inputs(seed=0):
    X = random_features(40, D_TASK, density=0.15, seed=seed)
    rng = np.random.default_rng(seed)
    pool = np.sort(rng.choice(40, size=25, replace=False)).astype(np.int64)
    # targets of 3 children: random positives, some outside the pool
    T = sp.csc_matrix((rng.random((40, 3)) < 0.3).astype(np.float32))
    T.sort_indices()
    return X, pool, T


def _run_task(X, pool, T, children, *, threshold=0.0, bias=1.0, Cp=1.0, Cn=1.0,
              feat_map=None):
    if feat_map is None:
        feat_map = np.full(X.shape[1], -1, dtype=np.int64)
    out = train_task(X.indptr.astype(np.int64), X.indices.astype(np.int64), X.data, pool,
                     np.asarray(children, dtype=np.int64), T.indptr.astype(np.int64),
                     T.indices.astype(np.int64), Cp, Cn, 1e-7, 100000, bias, threshold, 0,
                     feat_map)
    return out, feat_map


def _dense_weights(out, children, D):
    feat, child, val, bias_w = out
    W = np.zeros((D, max(children) + 1))
    W[feat, child] = val
    return W


def _reference_for_child(X, pool, T, c, bias, Cp=1.0, Cn=1.0):
    y = np.where(T[:, c].toarray().ravel()[pool] > 0, 1, -1)
    return ref_dual_cd(X[pool].toarray().astype(np.float64), y, Cp, Cn, bias)


@pytest.mark.parametrize("bias", [1.0, 2.0, 0.0])
def test_train_task_matches_reference(bias):
    X, pool, T = _task_inputs(seed=1)
    children = [0, 2]
    out, feat_map = _run_task(X, pool, T, children, bias=bias, Cp=1.5, Cn=0.5)
    feat, child, val, bias_w = out
    assert set(child.tolist()) <= set(children)
    assert bias_w.shape == (2,) and bias_w.dtype == np.float32
    # only features that occur in the pool's rows can get a weight
    assert set(feat.tolist()) <= set(X[pool].indices.tolist())
    W = _dense_weights(out, children, D_TASK)
    for ci, c in enumerate(children):
        w_ref, b_ref = _reference_for_child(X, pool, T, c, bias, Cp=1.5, Cn=0.5)
        np.testing.assert_allclose(W[:, c], w_ref, atol=1e-4)
        assert bias_w[ci] == pytest.approx(b_ref, abs=1e-4)
    if bias == 0.0:
        assert np.all(bias_w == 0)
    assert np.all(feat_map == -1)


def test_train_task_prunes_small_weights():
    X, pool, T = _task_inputs(seed=2)
    children = [0, 1, 2]
    full, _ = _run_task(X, pool, T, children, threshold=0.0)
    thr = 0.3
    out, feat_map = _run_task(X, pool, T, children, threshold=thr)
    feat, child, val, bias_w = out
    assert np.all(np.abs(val.astype(np.float64)) >= thr)
    assert np.all((bias_w == 0) | (np.abs(bias_w.astype(np.float64)) >= thr))
    # exactly the unpruned weights with |w| >= thr survive, unchanged
    W_full = _dense_weights(full, children, D_TASK)
    W = _dense_weights(out, children, D_TASK)
    expect = np.where(np.abs(W_full) >= thr, W_full, 0.0)
    np.testing.assert_array_equal(W, expect)
    assert 0 < (W != 0).sum() < (W_full != 0).sum()  # the threshold did something
    big = np.abs(full[3]) >= thr
    np.testing.assert_array_equal(bias_w, np.where(big, full[3], 0.0))
    assert np.all(feat_map == -1)


def test_train_task_bias_pruned_like_a_weight():
    X, pool, T = _task_inputs(seed=3)
    full, _ = _run_task(X, pool, T, [1])
    b = float(abs(full[3][0]))
    assert b > 0
    kept, _ = _run_task(X, pool, T, [1], threshold=b * 0.99)
    dropped, _ = _run_task(X, pool, T, [1], threshold=b * 1.01)
    assert kept[3][0] == full[3][0]
    assert dropped[3][0] == 0.0


def test_train_task_output_ids_are_global():
    X, pool, T = _task_inputs(seed=4)
    out, _ = _run_task(X, pool, T, [2])
    feat, child, val, _ = out
    assert np.all(child == 2)
    assert feat.dtype == np.int32 and child.dtype == np.int32 and val.dtype == np.float32
    assert feat.min() >= 0 and feat.max() < D_TASK
    assert len(set(feat.tolist())) == feat.size  # one weight per feature per child


def test_train_task_child_with_no_positive_in_pool():
    X, pool, T = _task_inputs(seed=5)
    lil = T.tolil()
    lil[pool, 1] = 0  # child 1's positives are all outside the pool
    T = sp.csc_matrix(lil)
    T.eliminate_zeros()
    T.sort_indices()
    out, _ = _run_task(X, pool, T, [1])
    W = _dense_weights(out, [1], D_TASK)
    w_ref, b_ref = ref_dual_cd(X[pool].toarray().astype(np.float64),
                               -np.ones(pool.size), 1.0, 1.0, 1.0)
    np.testing.assert_allclose(W[:, 1], w_ref, atol=1e-4)
    assert out[3][0] == pytest.approx(b_ref, abs=1e-4)
    assert out[3][0] < 0  # everything is negative: the bias pushes scores down


# ----------------------------------------------------------------------------- train_tasks
def test_train_tasks_equals_each_task_alone():
    """A batch of tasks (parents of their own pools, groups of their children, a parent
    twice) gives every task's pieces exactly as `train_task` alone, in task order."""
    X, _, T = _task_inputs(seed=3)
    rng = np.random.default_rng(3)
    pools = [np.sort(rng.choice(40, size=n, replace=False)).astype(np.int64)
             for n in (25, 40, 7)]  # 40 = every row: train_task's no-gather path
    pool_ptr = np.concatenate([[0], np.cumsum([p.size for p in pools])]).astype(np.int64)
    pool_idx = np.concatenate(pools)
    child_idx = np.array([0, 2, 1, 0, 1, 2], dtype=np.int64)  # parent p's at 2p:2p+2
    parent = np.array([1, 0, 2, 1], dtype=np.int64)
    lo = np.array([2, 0, 4, 3], dtype=np.int64)
    hi = np.array([3, 2, 6, 4], dtype=np.int64)
    Xi, Tp, Ti = X.indptr.astype(np.int64), T.indptr.astype(np.int64), T.indices.astype(np.int64)
    feat_map = np.full(D_TASK, -1, dtype=np.int64)
    feat, kid, val, bias_w, kids = train_tasks(
        Xi, X.indices, X.data, pool_ptr, pool_idx, parent, lo, hi, child_idx, Tp, Ti,
        1.0, 1.0, 0.1, 100, 1.0, 0.0, 5, feat_map)
    alone = [train_task(Xi, X.indices, X.data, pools[p], child_idx[a:b], Tp, Ti, 1.0, 1.0,
                        0.1, 100, 1.0, 0.0, 5, feat_map) for p, a, b in zip(parent, lo, hi)]
    for got, parts in zip((feat, kid, val, bias_w), zip(*alone)):
        np.testing.assert_array_equal(got, np.concatenate(parts))
    np.testing.assert_array_equal(kids, np.concatenate([child_idx[a:b] for a, b in zip(lo, hi)]))
    assert np.all(feat_map == -1)
