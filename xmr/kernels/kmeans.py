"""Balanced spherical 2-means splits of label segments (one tree level per call)."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(nogil=True, cache=True)
def _scatter_mean(Z_indptr, Z_indices, Z_data, rows, center, marker, touched, n_touched):
    """center += Σ rows; records newly touched features. Returns the new n_touched."""
    for r in rows:
        for p in range(Z_indptr[r], Z_indptr[r + 1]):
            f = Z_indices[p]
            if not marker[f]:
                marker[f] = True
                touched[n_touched] = f
                n_touched += 1
            center[f] += Z_data[p]
    return n_touched


@nb.njit(nogil=True, cache=True)
def _normalise(center, touched, n_touched):
    s = 0.0
    for j in range(n_touched):
        v = center[touched[j]]
        s += v * v
    if s > 0.0:
        inv = 1.0 / np.sqrt(s)
        for j in range(n_touched):
            center[touched[j]] *= inv


@nb.njit(nogil=True, cache=True)
def _split_one(Z_indptr, Z_indices, Z_data, members, init_a, init_b, max_iter,
               c1, c2, marker, touched):
    """Exactly balanced spherical 2-means of ``members``; returns them reordered, left half
    (the first ``(n+1)//2``) first. Buffers c1/c2/marker are all-zero on entry and exit."""
    n = members.size
    n_left = (n + 1) // 2
    order = members.copy()
    prev_left = np.zeros(n, dtype=np.bool_)
    in_left = np.zeros(n, dtype=np.bool_)
    scores = np.empty(n, dtype=np.float64)
    # initial centres: two distinct members (already unit rows)
    n_t = _scatter_mean(Z_indptr, Z_indices, Z_data, members[init_a:init_a + 1], c1,
                        marker, touched, 0)
    n_t = _scatter_mean(Z_indptr, Z_indices, Z_data, members[init_b:init_b + 1], c2,
                        marker, touched, n_t)
    for it in range(max_iter):
        for i in range(n):
            r = members[i]
            s = 0.0
            for p in range(Z_indptr[r], Z_indptr[r + 1]):
                f = Z_indices[p]
                s += Z_data[p] * (c1[f] - c2[f])
            scores[i] = s
        rank = np.argsort(-scores, kind="mergesort")
        in_left[:] = False
        for j in range(n_left):
            in_left[rank[j]] = True
        for j in range(n):
            order[j] = members[rank[j]]
        if it > 0 and (in_left == prev_left).all():
            break
        prev_left[:] = in_left
        if it == max_iter - 1:
            break
        # new centres = normalised sums of each half
        for j in range(n_t):
            f = touched[j]
            c1[f] = 0.0
            c2[f] = 0.0
        n_t = _scatter_mean(Z_indptr, Z_indices, Z_data, order[:n_left], c1, marker, touched,
                            n_t)
        n_t = _scatter_mean(Z_indptr, Z_indices, Z_data, order[n_left:], c2, marker, touched,
                            n_t)
        _normalise(c1, touched, n_t)
        _normalise(c2, touched, n_t)
    for j in range(n_t):
        f = touched[j]
        c1[f] = 0.0
        c2[f] = 0.0
        marker[f] = False
    return order


@nb.njit(nogil=True, parallel=True, cache=True)
def split_level(Z_indptr, Z_indices, Z_data, n_features, perm, seg_bounds, init_pairs,
                max_iter, n_workers):
    """Split every segment ``perm[seg_bounds[s]:seg_bounds[s+1]]`` in two.

    Returns the new permutation (each segment's left half first) and the new bounds
    (2 × segments). Segments are dealt round-robin to ``n_workers`` workers, each owning its
    dense centre buffers, so results do not depend on the number of threads.
    """
    n_seg = seg_bounds.size - 1
    out = perm.copy()
    new_bounds = np.empty(2 * n_seg + 1, dtype=np.int64)
    new_bounds[0] = 0
    for s in range(n_seg):
        a, b = seg_bounds[s], seg_bounds[s + 1]
        new_bounds[2 * s + 1] = a + (b - a + 1) // 2
        new_bounds[2 * s + 2] = b
    for w in nb.prange(n_workers):
        c1 = np.zeros(n_features, dtype=np.float64)
        c2 = np.zeros(n_features, dtype=np.float64)
        marker = np.zeros(n_features, dtype=np.bool_)
        touched = np.empty(n_features, dtype=np.int64)
        for s in range(w, n_seg, n_workers):
            a, b = seg_bounds[s], seg_bounds[s + 1]
            if b - a < 2:
                continue
            out[a:b] = _split_one(Z_indptr, Z_indices, Z_data, perm[a:b], init_pairs[s, 0],
                                  init_pairs[s, 1], max_iter, c1, c2, marker, touched)
    return out, new_bounds
