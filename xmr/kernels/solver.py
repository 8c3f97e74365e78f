"""L2-regularised squared-hinge SVM by dual coordinate descent (LIBLINEAR / PECOS style).

One *task* = one parent node's instance pool and some of its children: the pool's rows are
gathered once into a local CSR over the features they use (so each solve costs what the pool
holds, not D), then one binary problem per child is solved (positives = instances with the
child, negatives = the rest of the pool) and its weights are pruned to ``|w| >= threshold``.

Solver (Hsieh et al. 2008, Algorithm 3, as in PECOS ``linear_solver.hpp``): min_α ½αᵀQ̄α − eᵀα,
α ≥ 0, Q̄ = Q + D, D_ii = 1/(2C_i), with the bias as a constant feature of value ``bias``;
random permutation each pass, shrinking, stop when the projected-gradient spread <= eps.

The inner loops index with unsigned integers: numba supports negative (wrap-around) indices,
and for a signed index it emits a sign test and an add on every array access. In the dot and
axpy loops over a row that was a third of the solver's time (the dense many-label benchmark);
the arithmetic, and so every weight, is unchanged. The loop also prefetches the rows it will
visit a few steps ahead (`PREFETCH_ROWS`): a hint that changes no value.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba.typed import List

from xmr.kernels.prefetch import prefetch

_INF = np.inf
# Rows ahead whose data the coordinate loop prefetches (row state and entry pointers at
# 2 × this distance, the row's entries at this distance). Visits follow a random
# permutation, so over a large pool (the root: every row) each visit is a chain of
# dependent cache misses (index → indptr → entries → w); 4-16 measure the same.
PREFETCH_ROWS = 8
# Pools of fewer rows are not prefetched: their rows stay in cache (the leaves' pools), where
# the hints would only add instructions.
PREFETCH_MIN_POOL = 4096


@nb.njit(nogil=True, cache=True, inline="always")
def _next_rand(state):
    """splitmix64 step; ``state`` is a 1-element uint64 array. Returns a uint64."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(nogil=True, cache=True)
def solve_dual_cd(indptr, indices, data, sqnorm, y, Cp, Cn, eps, max_iter, bias, seed,
                  w, alpha, QD, index, prefetch_min_pool=PREFETCH_MIN_POOL):
    """Solve one binary problem on a local CSR (rows = pool, columns = local features).

    y: (n,) ±1 int8. w: (n_local_features,) float64 output (zeroed here); the bias weight is
    returned. alpha, QD: (n,) float64 scratch; index: (n,) int64 scratch. A pool of at least
    ``prefetch_min_pool`` rows is prefetched ahead (the same result; the tests compare).
    """
    n = y.size
    big = n >= prefetch_min_pool
    w[:] = 0.0
    b = 0.0
    bias2 = bias * bias if bias > 0 else 0.0
    for i in range(n):
        alpha[i] = 0.0
        c = Cp if y[i] > 0 else Cn
        QD[i] = 0.5 / c + sqnorm[i] + bias2
        index[i] = i
    diag_p = 0.5 / Cp  # hoisted: a division per coordinate step otherwise
    diag_n = 0.5 / Cn
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed)
    pg_max_old = _INF
    pg_min_old = -_INF
    active = n
    it = 0
    while it < max_iter:
        pg_max_new = -_INF
        pg_min_new = _INF
        for j in range(active - 1, 0, -1):  # Fisher-Yates on the active set
            # Lemire's multiply-shift instead of a 64-bit modulo (a division per step)
            k = np.int64(((_next_rand(state) >> np.uint64(32)) * np.uint64(j + 1))
                         >> np.uint64(32))
            t = index[j]
            index[j] = index[k]
            index[k] = t
        s = 0
        while s < active:
            if big and s + 2 * PREFETCH_ROWS < active:
                far = index[s + 2 * PREFETCH_ROWS]
                prefetch(indptr, far)
                prefetch(alpha, far)
                prefetch(y, far)
                prefetch(QD, far)
            if big and s + PREFETCH_ROWS < active:
                near = indptr[index[s + PREFETCH_ROWS]]
                prefetch(indices, near)
                prefetch(data, near)
            i = index[s]
            yi = y[i]
            diag = diag_p if yi > 0 else diag_n
            dot = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                up = np.uint64(p)  # unsigned: no negative-index wraparound code per access
                dot += w[np.uint64(indices[up])] * data[up]
            if bias > 0:
                dot += b * bias
            G = yi * dot - 1.0 + alpha[i] * diag
            PG = 0.0
            if alpha[i] == 0.0:
                if G > pg_max_old:  # shrink: stays at the bound
                    active -= 1
                    t = index[s]
                    index[s] = index[active]
                    index[active] = t
                    continue
                elif G < 0.0:
                    PG = G
            else:
                PG = G
            if PG > pg_max_new:
                pg_max_new = PG
            if PG < pg_min_new:
                pg_min_new = PG
            if abs(PG) > 1.0e-12:
                a_old = alpha[i]
                a_new = a_old - G / QD[i]
                if a_new < 0.0:
                    a_new = 0.0
                alpha[i] = a_new
                d = (a_new - a_old) * yi
                for p in range(indptr[i], indptr[i + 1]):
                    up = np.uint64(p)
                    w[np.uint64(indices[up])] += d * data[up]
                if bias > 0:
                    b += d * bias
            s += 1
        it += 1
        if pg_max_new - pg_min_new <= eps:
            if active == n:
                break
            active = n  # re-check the shrunk variables once before stopping
            pg_max_old = _INF
            pg_min_old = -_INF
            continue
        pg_max_old = pg_max_new
        pg_min_old = pg_min_new
        if pg_max_old <= 0.0:
            pg_max_old = _INF
        if pg_min_old >= 0.0:
            pg_min_old = -_INF
    return b


@nb.njit(nogil=True, cache=True)
def _train_children(indptr, indices, data, sqnorm, n_feat, local2global, pool, child_ids,
                    pos_ptr, pos_idx, Cp, Cn, eps, max_iter, bias, threshold, seed):
    """Solve one binary problem per child on the gathered pool (local CSR over ``n_feat``
    features, ``local2global`` maps them back) and keep the weights ``|w| >= threshold``."""
    n = pool.size
    n_child = child_ids.size
    # kept weights, grown on demand: sizing for n_feat × n_child up front held hundreds of
    # MB per thread on the upper levels of a 1M-label tree
    cap = max(1024, n_feat)
    out_feat = np.empty(cap, dtype=np.int32)
    out_child = np.empty(cap, dtype=np.int32)
    out_val = np.empty(cap, dtype=np.float32)
    out_bias = np.zeros(n_child, dtype=np.float32)
    n_out = 0
    w = np.empty(n_feat, dtype=np.float64)
    alpha = np.empty(n, dtype=np.float64)
    QD = np.empty(n, dtype=np.float64)
    index = np.empty(n, dtype=np.int64)
    y = np.empty(n, dtype=np.int8)
    for ci in range(n_child):
        c = child_ids[ci]
        # labels: merge the sorted pool with the child's sorted positives
        y[:] = -1
        a = 0
        for p in range(pos_ptr[c], pos_ptr[c + 1]):
            inst = pos_idx[p]
            while a < n and pool[a] < inst:
                a += 1
            if a < n and pool[a] == inst:
                y[a] = 1
        b = solve_dual_cd(indptr, indices, data, sqnorm, y, Cp, Cn, eps, max_iter, bias,
                          seed + c, w, alpha, QD, index)
        kept = 0
        for j in range(n_feat):
            v = w[j]
            if v != 0.0 and abs(v) >= threshold:
                kept += 1
        if n_out + kept > cap:
            cap = max(2 * cap, n_out + kept)
            grown_f = np.empty(cap, dtype=np.int32)
            grown_c = np.empty(cap, dtype=np.int32)
            grown_v = np.empty(cap, dtype=np.float32)
            grown_f[:n_out] = out_feat[:n_out]
            grown_c[:n_out] = out_child[:n_out]
            grown_v[:n_out] = out_val[:n_out]
            out_feat, out_child, out_val = grown_f, grown_c, grown_v
        for j in range(n_feat):
            v = w[j]
            if v != 0.0 and abs(v) >= threshold:
                out_feat[n_out] = local2global[j]
                out_child[n_out] = c
                out_val[n_out] = v
                n_out += 1
        if bias > 0 and b != 0.0 and abs(b) >= threshold:
            out_bias[ci] = b
    return out_feat[:n_out].copy(), out_child[:n_out].copy(), out_val[:n_out].copy(), out_bias


@nb.njit(nogil=True, cache=True)
def train_task(X_indptr, X_indices, X_data, pool, child_ids, pos_ptr, pos_idx,
               Cp, Cn, eps, max_iter, bias, threshold, seed, feat_map):
    """Train the children ``child_ids`` of one parent on its instance ``pool`` (sorted ids).

    pos_ptr/pos_idx: CSC of the level's targets (child → sorted positive instance ids).
    feat_map: (D,) int64 scratch, all -1 on entry and exit.
    Returns COO pieces (feature, child, weight) of the kept weights and the children's bias
    weights (0 where pruned).

    A pool of all N rows (the root; most parents when most rows reach most parents) is solved
    on X itself: no copy of X, whose gathering would cost as much memory as X per thread.
    """
    n = pool.size
    D = feat_map.size
    if n == X_indptr.size - 1:  # pool == 0..N-1 (sorted, distinct)
        sqnorm = np.zeros(n, dtype=np.float64)
        for r in range(n):
            for p in range(X_indptr[r], X_indptr[r + 1]):
                v = np.float64(X_data[p])
                sqnorm[r] += v * v
        identity = np.arange(D).astype(np.int32)
        return _train_children(X_indptr, X_indices, X_data, sqnorm, D, identity, pool,
                               child_ids, pos_ptr, pos_idx, Cp, Cn, eps, max_iter, bias,
                               threshold, seed)
    # gather the pool into a local CSR over the features it uses
    nnz = 0
    for r in range(n):
        nnz += X_indptr[pool[r] + 1] - X_indptr[pool[r]]
    indptr = np.empty(n + 1, dtype=np.int64)
    indices = np.empty(nnz, dtype=np.int32)  # 32-bit: halves the memory traffic of a pass
    data = np.empty(nnz, dtype=np.float32)
    local2global = np.empty(min(nnz, D), dtype=np.int32)
    sqnorm = np.zeros(n, dtype=np.float64)
    n_feat = 0
    q = 0
    indptr[0] = 0
    for r in range(n):
        row = pool[r]
        for p in range(X_indptr[row], X_indptr[row + 1]):
            f = X_indices[p]
            loc = feat_map[f]
            if loc < 0:
                loc = n_feat
                feat_map[f] = loc
                local2global[loc] = f
                n_feat += 1
            indices[q] = loc
            data[q] = X_data[p]
            v = np.float64(X_data[p])
            sqnorm[r] += v * v
            q += 1
        indptr[r + 1] = q
    for j in range(n_feat):
        feat_map[local2global[j]] = -1
    return _train_children(indptr, indices, data, sqnorm, n_feat, local2global, pool,
                           child_ids, pos_ptr, pos_idx, Cp, Cn, eps, max_iter, bias,
                           threshold, seed)


@nb.njit(nogil=True, cache=True)
def train_tasks(X_indptr, X_indices, X_data, pool_ptr, pool_idx, task_parent, task_lo, task_hi,
                child_idx, pos_ptr, pos_idx, Cp, Cn, eps, max_iter, bias, threshold, seed,
                feat_map):
    """`train_task` for a batch of tasks in one call (a level of a trie has tens of thousands
    of parents with one or two children each: one Python call, thread-pool future and output
    piece per parent cost several times their solving).

    Task ``j`` trains the children ``child_idx[task_lo[j]:task_hi[j]]`` of parent
    ``task_parent[j]``, whose pool is ``pool_idx[pool_ptr[p]:pool_ptr[p + 1]]`` (sorted ids).
    Each task is solved exactly as `train_task` solves it alone, so the weights do not depend
    on the batching. Returns the tasks' COO pieces and bias weights concatenated in task
    order, and the trained children in that order (the bias weights' labels)."""
    feats = List()
    kids = List()
    vals = List()
    biases = List()
    n_out = 0
    n_kids = 0
    for j in range(task_parent.size):
        p = task_parent[j]
        f, c, v, b = train_task(X_indptr, X_indices, X_data,
                                pool_idx[pool_ptr[p]:pool_ptr[p + 1]],
                                child_idx[task_lo[j]:task_hi[j]], pos_ptr, pos_idx, Cp, Cn,
                                eps, max_iter, bias, threshold, seed, feat_map)
        feats.append(f)
        kids.append(c)
        vals.append(v)
        biases.append(b)
        n_out += f.size
        n_kids += b.size
    out_feat = np.empty(n_out, dtype=np.int32)
    out_child = np.empty(n_out, dtype=np.int32)
    out_val = np.empty(n_out, dtype=np.float32)
    out_bias = np.empty(n_kids, dtype=np.float32)
    out_kids = np.empty(n_kids, dtype=np.int64)
    q = 0
    r = 0
    for j in range(task_parent.size):
        m = feats[j].size
        out_feat[q:q + m] = feats[j]
        out_child[q:q + m] = kids[j]
        out_val[q:q + m] = vals[j]
        q += m
        m = biases[j].size
        out_bias[r:r + m] = biases[j]
        out_kids[r:r + m] = child_idx[task_lo[j]:task_hi[j]]
        r += m
    return out_feat, out_child, out_val, out_bias, out_kids
