"""The dual coordinate-descent SVM solver (`xmr.kernels.solver`) on k problems at once that
share their rows: one-vs-rest over all N rows, where every label is a problem on the same X.

Why: on a pool of all rows a problem with one or two positives still needs ~10 passes over
every row (the bias puts nearly every negative within ``eps`` of the margin, so shrinking
starts late: Home Depot, 37k rows, 10.6 passes on average), and each pass is a chain of
cache misses (the row, then ``w`` at each of its features). Here k problems ("lanes") share
each pass: a row is read once for all of them, and their k weights of a feature lie in one
cache line (``W`` is n_features × k, row-major). When a lane's problem has converged its
weights are written out and the lane takes the next label, so no lane waits for the slowest
problem of a batch.

The algorithm per problem is `solve_dual_cd`'s (Hsieh et al. 2008, Algorithm 3: random
order, shrinking, stop when the projected-gradient spread <= eps after a pass over every
row, at most ``max_iter`` passes), with one difference that moves the path, not the optimum:
the lanes share one random order per pass, over all rows (a row a lane has shrunk is skipped
for that lane), seeded by the call, so a label's weights depend on the labels it shared its
passes with. They are not bit-identical to the one-problem solver's: both are eps-approximate
solutions of the same problem (the tests compare both with the exact optimum).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from xmr.kernels.solver import _next_rand

_INF = np.inf


@nb.njit(nogil=True, cache=True)
def _load_lane(j, label, pos_ptr, pos_idx, Y, row_live):
    """Lane ``j`` starts on ``label``: its targets, every row active (alpha, W, b already 0).
    Positives beyond the rows (a row subset's CSC) are ignored."""
    n = Y.shape[0]
    for i in range(n):
        Y[i, j] = -1
        row_live[i] += 1
    for p in range(pos_ptr[label], pos_ptr[label + 1]):
        if pos_idx[p] < n:
            Y[pos_idx[p], j] = 1


@nb.njit(nogil=True, cache=True)
def train_labels_lanes(X_indptr, X_indices, X_data, n_feat, labels, pos_ptr, pos_idx, lanes,
                       Cp, Cn, eps, max_iter, bias, threshold, seed):
    """One squared-hinge SVM per label of ``labels`` over every row of X (CSR, ``n_feat``
    columns), ``lanes`` problems per pass of the rows. pos_ptr/pos_idx: CSC of Y (label →
    sorted positive rows). The result depends on ``labels``, ``lanes`` and ``seed``, not on
    the machine or threads.

    Returns COO pieces (feature int32, label int32, weight float32) of the weights
    ``|w| >= threshold`` and the labels' bias weights (float32, in ``labels`` order, 0 where
    pruned), as `xmr.kernels.solver.train_task`.
    """
    n = X_indptr.size - 1
    n_lab = labels.size
    k = max(1, min(lanes, n_lab))
    sqnorm = np.zeros(n, dtype=np.float64)
    for r in range(n):
        for p in range(X_indptr[r], X_indptr[r + 1]):
            v = np.float64(X_data[p])
            sqnorm[r] += v * v
    bias2 = bias * bias if bias > 0 else 0.0
    diag_p = 0.5 / Cp  # hoisted: a division per coordinate step otherwise
    diag_n = 0.5 / Cn
    # lane state: column j of W / alpha / shrunk / Y belongs to the label lane_pos[j] holds
    W = np.zeros((n_feat, k), dtype=np.float64)
    alpha = np.zeros((n, k), dtype=np.float64)
    shrunk = np.zeros((n, k), dtype=np.bool_)
    Y = np.empty((n, k), dtype=np.int8)
    b = np.zeros(k, dtype=np.float64)
    lane_pos = np.full(k, -1, dtype=np.int64)  # index into labels; -1 = idle
    lane_it = np.zeros(k, dtype=np.int64)
    n_active = np.full(k, n, dtype=np.int64)  # rows the lane has not shrunk
    pg_max_old = np.full(k, _INF)
    pg_min_old = np.full(k, -_INF)
    pg_max_new = np.empty(k)
    pg_min_new = np.empty(k)
    row_live = np.zeros(n, dtype=np.int64)  # busy lanes that have not shrunk the row
    dot = np.empty(k)
    d = np.empty(k)
    index = np.arange(n)
    # output: kept weights, grown on demand (as the solver)
    cap = max(1024, n_feat)
    out_feat = np.empty(cap, dtype=np.int32)
    out_lab = np.empty(cap, dtype=np.int32)
    out_val = np.empty(cap, dtype=np.float32)
    out_bias = np.zeros(n_lab, dtype=np.float32)
    n_out = 0
    next_pos = 0
    busy = 0
    for j in range(k):
        lane_pos[j] = next_pos
        _load_lane(j, labels[next_pos], pos_ptr, pos_idx, Y, row_live)
        next_pos += 1
        busy += 1
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed)
    while busy > 0:
        for j in range(k):
            pg_max_new[j] = -_INF
            pg_min_new[j] = _INF
        for s in range(n - 1, 0, -1):  # Fisher-Yates (Lemire's multiply-shift, as the solver)
            r = np.int64(((_next_rand(state) >> np.uint64(32)) * np.uint64(s + 1))
                         >> np.uint64(32))
            t = index[s]
            index[s] = index[r]
            index[r] = t
        for s in range(n):
            i = index[s]
            if row_live[i] == 0:
                continue
            for j in range(k):
                dot[j] = 0.0
            for p in range(X_indptr[i], X_indptr[i + 1]):
                up = np.uint64(p)  # unsigned: no negative-index wraparound code (as the solver)
                f = np.uint64(X_indices[up])
                v = np.float64(X_data[up])
                for j in range(k):
                    dot[j] += W[f, np.uint64(j)] * v
            moved = False
            for j in range(k):
                d[j] = 0.0
                if lane_pos[j] < 0 or shrunk[i, j]:
                    continue
                yi = Y[i, j]
                diag = diag_p if yi > 0 else diag_n
                dj = dot[j]
                if bias > 0:
                    dj += b[j] * bias
                a_old = alpha[i, j]
                G = yi * dj - 1.0 + a_old * diag
                PG = 0.0
                if a_old == 0.0:
                    if G > pg_max_old[j]:  # shrink: stays at the bound
                        shrunk[i, j] = True
                        n_active[j] -= 1
                        row_live[i] -= 1
                        continue
                    elif G < 0.0:
                        PG = G
                else:
                    PG = G
                if PG > pg_max_new[j]:
                    pg_max_new[j] = PG
                if PG < pg_min_new[j]:
                    pg_min_new[j] = PG
                if abs(PG) > 1.0e-12:
                    a_new = a_old - G / (diag + sqnorm[i] + bias2)
                    if a_new < 0.0:
                        a_new = 0.0
                    alpha[i, j] = a_new
                    d[j] = (a_new - a_old) * yi
                    if bias > 0:
                        b[j] += d[j] * bias
                    moved = True
            if moved:
                for p in range(X_indptr[i], X_indptr[i + 1]):
                    up = np.uint64(p)
                    f = np.uint64(X_indices[up])
                    v = np.float64(X_data[up])
                    for j in range(k):
                        W[f, np.uint64(j)] += d[j] * v
        # end of pass: per lane, LIBLINEAR's stopping and shrinking-bound updates
        for j in range(k):
            if lane_pos[j] < 0:
                continue
            lane_it[j] += 1
            finished = False
            if pg_max_new[j] - pg_min_new[j] <= eps:
                if n_active[j] == n:
                    finished = True
                else:  # re-check the shrunk rows once before stopping
                    for i in range(n):
                        if shrunk[i, j]:
                            shrunk[i, j] = False
                            row_live[i] += 1
                    n_active[j] = n
                    pg_max_old[j] = _INF
                    pg_min_old[j] = -_INF
            else:
                pg_max_old[j] = pg_max_new[j] if pg_max_new[j] > 0.0 else _INF
                pg_min_old[j] = pg_min_new[j] if pg_min_new[j] < 0.0 else -_INF
            if not finished and lane_it[j] < max_iter:
                continue
            # write the lane's kept weights out and reset it for the next label
            pos = lane_pos[j]
            lab = labels[pos]
            for f in range(n_feat):  # one sweep: a column of W is one cache line per feature
                v = W[f, j]
                if v != 0.0 and abs(v) >= threshold:
                    if n_out == cap:
                        cap *= 2
                        grown_f = np.empty(cap, dtype=np.int32)
                        grown_l = np.empty(cap, dtype=np.int32)
                        grown_v = np.empty(cap, dtype=np.float32)
                        grown_f[:n_out] = out_feat[:n_out]
                        grown_l[:n_out] = out_lab[:n_out]
                        grown_v[:n_out] = out_val[:n_out]
                        out_feat, out_lab, out_val = grown_f, grown_l, grown_v
                    out_feat[n_out] = f
                    out_lab[n_out] = lab
                    out_val[n_out] = v
                    n_out += 1
                W[f, j] = 0.0
            if bias > 0 and b[j] != 0.0 and abs(b[j]) >= threshold:
                out_bias[pos] = b[j]
            for i in range(n):
                if not shrunk[i, j]:
                    row_live[i] -= 1
                shrunk[i, j] = False
                alpha[i, j] = 0.0
            b[j] = 0.0
            lane_it[j] = 0
            n_active[j] = n
            pg_max_old[j] = _INF
            pg_min_old[j] = -_INF
            if next_pos < n_lab:
                lane_pos[j] = next_pos
                _load_lane(j, labels[next_pos], pos_ptr, pos_idx, Y, row_live)
                next_pos += 1
            else:
                lane_pos[j] = -1
                busy -= 1
    return out_feat[:n_out].copy(), out_lab[:n_out].copy(), out_val[:n_out].copy(), out_bias
